"""zhiku (智库): grounded, cited answers over your documents, in Chinese and English."""

from .app import App
from .settings import Settings
from .types import Answer, Chunk, Citation, Hit, Locator, ParsedDocument

__version__ = "0.1.0"
__all__ = ["Answer", "App", "Chunk", "Citation", "Hit", "Locator", "ParsedDocument", "Settings", "__version__"]
