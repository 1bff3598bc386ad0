"""Document formats: one loader per format behind one interface (:mod:`.base`), chosen by content
(:mod:`.registry`). Heavy libraries (PDFium) are imported only when a file of their format is opened."""
