"""llm-harness: evaluate and regression-test LLM prompts as pytest tests."""

__version__ = "0.1.0"
