"""SQuAD-format data: loading the formats, checking answer alignment, annotations, and the EM/F1 metric."""
