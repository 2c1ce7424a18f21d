"""Export: LoRA merge to GGUF, quantization and Ollama registration (built in a later issue)."""
