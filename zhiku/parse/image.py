"""Images (PNG, JPEG, TIFF including multi-page TIFF) read through OCR.

Pillow decodes the image (its decompression-bomb guard refuses absurd pixel counts; EXIF rotation
is applied so phone photos read upright), each frame goes to Tesseract (``ocr``), and every OCR
paragraph becomes a block with ``locator.page`` (the frame, 1-based) and ``locator.bbox`` in
pixels of that frame (x0, y0, x1, y1 from the top-left corner; ``metadata["bbox_units"] == "px"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from ..errors import ParseError
from ..types import Block, Locator, ParsedDocument
from .ocr import OcrOptions, OcrQueue, Run, Tesseract

if TYPE_CHECKING:
    from ..settings import Settings

#: Frames read from one multi-page TIFF; more is almost certainly not a document.
MAX_FRAMES = 500


class ImageParser:
    """OCR for ``.png``, ``.jpg``/``.jpeg`` and ``.tif``/``.tiff``; needs Tesseract installed."""

    def __init__(self, options: OcrOptions | None = None) -> None:
        self.options = options or OcrOptions()
        self._tesseract = Tesseract(self.options)

    @classmethod
    def from_settings(cls, settings: Settings) -> ImageParser:
        """A parser using ``ocr_languages`` (and ``ocr_dpi`` for images that do not state theirs)."""
        return cls(OcrOptions(languages=settings.ocr_languages, dpi=settings.ocr_dpi, workers=settings.ocr_workers))

    def parse(self, path: Path) -> ParsedDocument:
        """OCR every frame of the image; ``ParseError`` when it cannot be decoded or OCR is missing."""
        self._tesseract.require()
        try:
            image = Image.open(path)
        except Image.DecompressionBombError as exc:
            raise ParseError(f"image too large to OCR safely: {_reason(exc, path)}") from exc
        except UnidentifiedImageError as exc:
            raise ParseError("corrupt or unreadable image: not a PNG, JPEG or TIFF that Pillow can decode") from exc
        except (OSError, ValueError) as exc:
            raise ParseError(f"corrupt or unreadable image: {_reason(exc, path)}") from exc
        with image:
            try:
                blocks, frames, size = self._read(image)
            except Image.DecompressionBombError as exc:
                raise ParseError(f"image too large to OCR safely: {_reason(exc, path)}") from exc
            except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt frame data
                raise ParseError(f"corrupt or unreadable image: {_reason(exc, path)}") from exc
        metadata: dict[str, Any] = {"pages": frames, "ocr_pages": list(range(1, frames + 1)), "bbox_units": "px"}
        metadata["width"], metadata["height"] = size
        if not blocks:
            raise ParseError("no text found: OCR read nothing in this image")
        return ParsedDocument.from_blocks(blocks, title=path.stem, metadata=metadata)

    def _read(self, image: Image.Image) -> tuple[list[Block], int, tuple[int, int]]:
        blocks: list[Block] = []
        frames = 0
        size = image.size
        dpi = _dpi(image)

        def collect(index: int, run: Run) -> None:
            for para in run.result():
                blocks.append(Block("paragraph", para.text, locator=Locator(page=index + 1, bbox=para.bbox)))

        # The frames of a multi-page TIFF (a fax, a scanned contract) are read by several Tesseract
        # processes at once, as a scanned PDF's pages are; each frame is copied off the decoder first.
        with OcrQueue[int](self._tesseract, self.options.worker_count()) as ocr:
            for index, frame in enumerate(ImageSequence.Iterator(image)):
                if index >= MAX_FRAMES:
                    break
                frames += 1
                upright = ImageOps.exif_transpose(frame) if index == 0 else frame.copy()
                upright.load()
                for done, run in ocr.submit(index, upright, page=index + 1, dpi=dpi):
                    collect(done, run)
            for done, run in ocr.drain():
                collect(done, run)
        return blocks, frames, size


def _reason(exc: BaseException, path: Path) -> str:
    """Pillow's message without the file's path (the caller names the file once, up front)."""
    text = str(exc).replace(str(path), "the file").replace(path.name, "the file").strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _dpi(image: Image.Image) -> int | None:
    """The resolution the file states (TIFF/JPEG/PNG metadata), if plausible."""
    value = image.info.get("dpi")
    try:
        dpi = round(float(value[0])) if value else 0
    except (TypeError, ValueError, IndexError):
        return None
    return dpi if 70 <= dpi <= 1200 else None
