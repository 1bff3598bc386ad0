"""Fine-tune, evaluate and keep extractive QA reader models."""
