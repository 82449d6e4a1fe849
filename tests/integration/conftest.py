from pipeline_support import scenario

__all__ = ["scenario"]
