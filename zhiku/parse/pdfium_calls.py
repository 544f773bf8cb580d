"""pdfium functions for the PDF parser's hot loops, called without ctypes argument conversion.

pypdfium2's bindings declare ``argtypes`` for every function, so each call converts and checks every
argument (typed pointers, ``c_double`` out-parameters passed by reference): about 0.6-0.9 us a call.
The parser makes several calls per text line and, on pages with tables, three per page object, so
that overhead was a large part of parsing time. ``bare`` makes a second function pointer to the same
C function with no ``argtypes`` (and no GIL release): callers pass exactly typed arguments themselves
(``Handle`` for handles, ``byref`` for out-parameters, Python ints only for C ``int`` parameters),
which halves the cost. Only the result type is declared. The function objects are created once and
never changed.
"""

from __future__ import annotations

import ctypes
from typing import Any

import pypdfium2.raw as pdfium_c


def bare(function: Any, restype: Any) -> Any:
    """A new ctypes function pointer to ``function``'s C function, without ``argtypes``.

    Its prototype is ``PYFUNCTYPE``: the call keeps the GIL instead of releasing and taking it back
    around every call (mutex work that cost about as much as the short pdfium functions called
    here; none of them calls back into Python, and each returns within microseconds).
    """
    address = ctypes.cast(function, ctypes.c_void_p).value
    if address is None:
        raise ValueError("a NULL pdfium function pointer")
    return ctypes.PYFUNCTYPE(restype)(address)


#: Handles (page, text page, object) are passed as pointer objects: ctypes passes a pointer without
#: looking up its format, which it does for every ``c_void_p`` argument (a table search per call).
#: As a result type, a pointer type is returned as it is, ready to pass to the next call; its
#: truth value is False for NULL.
Handle = ctypes.POINTER(ctypes.c_ubyte)


def handle(raw: Any) -> Any:
    """A pypdfium2 handle (page, text page, object) as a ``Handle`` for ``bare`` functions."""
    return ctypes.cast(raw, Handle)


_int, _double, _ulong = ctypes.c_int, ctypes.c_double, ctypes.c_ulong


#: (text page, int start, int count) -> int
count_rects = bare(pdfium_c.FPDFText_CountRects, _int)
#: (text page, int index, double* left, double* top, double* right, double* bottom) -> bool
get_rect = bare(pdfium_c.FPDFText_GetRect, _int)
#: (text page, int index, FS_RECTF*) -> bool
loose_char_box = bare(pdfium_c.FPDFText_GetLooseCharBox, _int)
#: (text page, int index) -> double
font_size = bare(pdfium_c.FPDFText_GetFontSize, _double)
#: (text page, int index, FS_MATRIX*) -> bool
get_matrix = bare(pdfium_c.FPDFText_GetMatrix, _int)
#: (text page, int index, void* buffer, c_ulong length, int* flags) -> unsigned long
font_info = bare(pdfium_c.FPDFText_GetFontInfo, _ulong)
#: (text page, int index) -> int
font_weight = bare(pdfium_c.FPDFText_GetFontWeight, _int)
#: (page, int index) -> object handle (a ``Handle``)
page_object = bare(pdfium_c.FPDFPage_GetObject, Handle)
#: (object) -> int
object_type = bare(pdfium_c.FPDFPageObj_GetType, _int)
#: (object, float* left, float* bottom, float* right, float* top) -> bool
object_bounds = bare(pdfium_c.FPDFPageObj_GetBounds, _int)
