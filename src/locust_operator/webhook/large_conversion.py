"""Large ConversionReviews, converted a piece at a time in a process of their own.

The apiserver sends every object of a list that needs converting in one review: 20,000
stored tests make a 25 MiB body. ``json.loads`` and :func:`convert_review` hold the parsed
review, its converted copy and the encoded answer at once, about 16 times the body. Here the
body stays bytes, decoded a window at a time; each item of ``request.objects`` is parsed with
json's own scanner, converted and encoded on its own, and only its encoding is kept until
the answer is known (a later item may still fail the review).

The answer is byte for byte :func:`reference_answer`'s (``json.loads`` and
:func:`convert_review`, as the webhook answers a small review). What the scanner does not
take in its stride (a body that is not valid JSON or UTF-8, or not a JSON object) is answered
by the reference itself, so error messages are the same too. (Nesting within a few levels
of the interpreter's recursion limit is the exception: where that limit falls depends on
the caller's stack, as it did between a thread and a process before.)

Run as ``python -c 'from locust_operator.webhook.large_conversion import main; main()' SIZE
LIMIT``: reads the body (SIZE bytes, or until EOF if SIZE is -1; at most LIMIT) on stdin and
writes ``STATUS LENGTH\\n`` then the answer's LENGTH bytes on stdout.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from locust_operator.api.conversion import (
    BadReview,
    conversion_failure,
    convert,
    convert_review,
    not_an_object,
    review_answer,
    review_request,
)

Body = bytes | bytearray

# Bytes decoded at a time; a window grows (doubles) when an object does not fit in it.
WINDOW_BYTES = 1024 * 1024
# Memory a conversion process may take beyond its own start-up: this many times the body,
# plus a margin. A well-formed review needs about 2.5 times (the body and the encoded
# answer); what goes past this is a hostile body, answered 413 instead of taking the pod's
# memory. The process also volunteers to be the one the kernel's OOM killer picks first.
MEMORY_PER_BODY_BYTE = 4
MEMORY_MARGIN_BYTES = 256 * 1024 * 1024

# What the webhook answers 400 rather than 500 for (server.py's handler catches the same).
UNPROCESSABLE = (ValueError, TypeError, AttributeError, KeyError, RecursionError)

_SEPARATOR = b", "  # json.dumps's between the items of a list
_WHITESPACE = re.compile(r"[ \t\n\r]*")  # json's
# The scanner json.loads uses: (value, end) of the JSON value at an index of a str.
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


class MalformedBody(Exception):
    """The body is not JSON (answered 400 with the reason)."""


def parse_body(raw: Body) -> Any:
    """JSON of a review body; MalformedBody for anything that is not (also JSON nested too
    deep for the parser, and integers too long to convert)."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise MalformedBody(f"body is not valid JSON: {str(error)[:200]}") from None


@dataclass
class Answer:
    """An HTTP answer: status, body in pieces, and why the review was refused (400)."""

    status: int
    parts: list[bytes]
    reason: str | None = None

    @property
    def size(self) -> int:
        return sum(len(part) for part in self.parts)

    @property
    def body(self) -> bytes:
        return b"".join(self.parts)


def refusal(reason: str, status: int = 400) -> Answer:
    return Answer(status, [json.dumps({"error": reason}).encode()], reason)


def reference_answer(raw: Body) -> Answer:
    """The webhook's answer to a conversion review body, all of it in memory at once."""
    try:
        text = json.dumps(convert_review(parse_body(raw)))
    except (MalformedBody, BadReview) as error:
        return refusal(str(error))
    except UNPROCESSABLE as error:
        return refusal(f"the review cannot be processed: {str(error)[:200]}")
    return Answer(200, [text.encode()])


def answer(raw: Body) -> Answer:
    """:func:`reference_answer`, computed a piece at a time where the body allows."""
    try:
        return fast_answer(raw)
    except Irregular:
        return reference_answer(raw)


# --- the piecewise path ---------------------------------------------------------------------


class Irregular(Exception):
    """The piecewise path does not answer this body (invalid JSON, ...): the reference does."""


class _Cursor:
    """A position in the body's text, which is decoded a window at a time (UTF-8) or at once."""

    def __init__(self, raw: Body, offset: int, text: str | None = None) -> None:
        self.raw = raw
        self.pos = 0
        if text is not None:  # not UTF-8: all of it at once; offsets are in characters
            self.window, self.start, self.end, self.final = text, 0, len(text), True
            self.pos, self.utf8 = offset, False
        else:
            self.utf8 = True
            self._load(offset, WINDOW_BYTES)

    def _load(self, start: int, size: int) -> None:
        raw = self.raw
        end = min(len(raw), start + size)
        while start < end < len(raw) and raw[end] & 0xC0 == 0x80:
            end -= 1  # not in the middle of a character
        try:
            self.window = str(memoryview(raw)[start:end], "utf-8", "surrogatepass")
        except UnicodeDecodeError:
            raise Irregular from None
        self.start, self.end, self.pos, self.final = start, end, 0, end == len(raw)
        self.ascii = self.window.isascii()

    def offset(self) -> int:
        """Where the cursor is, to come back to (:meth:`at`)."""
        if not self.utf8:
            return self.pos
        head = self.window[: self.pos]
        size = len(head) if self.ascii else len(head.encode("utf-8", "surrogatepass"))
        return self.start + size

    def at(self, offset: int) -> _Cursor:
        if not self.utf8:
            return _Cursor(self.raw, offset, self.window)
        return _Cursor(self.raw, offset)

    def _more(self) -> bool:
        """Decodes a new window from the cursor on, larger than what was left of this one;
        False at the end of the body."""
        if self.final:
            return False
        offset = self.offset()
        self._load(offset, max(WINDOW_BYTES, 2 * (self.end - offset) + 8))
        return True

    def peek(self) -> str:
        """The next character after whitespace; "" at the end of the body."""
        while True:
            self.pos = _WHITESPACE.match(self.window, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.window):
                return self.window[self.pos]
            if not self._more():
                return ""

    def take(self, char: str) -> None:
        if self.peek() != char:
            raise Irregular
        self.pos += 1

    def value(self) -> Any:
        """The JSON value at the cursor, by json's own scanner."""
        self.peek()
        while True:
            try:
                value, end = _scan_once(self.window, self.pos)
            except (StopIteration, ValueError, RecursionError):
                if self._more():  # perhaps cut off by the window's end
                    continue
                raise Irregular from None
            if len(self.window) - end < 3 and self._more():
                # A number cut off by the window's end can still parse ("1e" as 1): again,
                # with the rest of it.
                continue
            self.pos = end
            return value


def _cursor(raw: Body) -> _Cursor:
    encoding = json.detect_encoding(raw)
    if encoding == "utf-8":
        return _Cursor(raw, 0)
    if encoding == "utf-8-sig":
        return _Cursor(raw, 3)
    try:  # UTF-16 or UTF-32, as json.loads reads them: at once
        return _Cursor(raw, 0, str(raw, encoding, "surrogatepass"))
    except UnicodeDecodeError:
        raise Irregular from None


def _members(cursor: _Cursor) -> Iterator[str]:
    """The keys of the JSON object at the cursor; the caller reads each one's value."""
    cursor.take("{")
    if cursor.peek() == "}":
        cursor.pos += 1
        return
    while True:
        if cursor.peek() != '"':
            raise Irregular
        key = cursor.value()
        cursor.take(":")
        yield key
        if cursor.peek() == "}":
            cursor.pos += 1
            return
        cursor.take(",")


def _items(cursor: _Cursor) -> Iterator[None]:
    """Stops at each item of the JSON array at the cursor; the caller reads it."""
    cursor.take("[")
    if cursor.peek() == "]":
        cursor.pos += 1
        return
    while True:
        yield
        if cursor.peek() == "]":
            cursor.pos += 1
            return
        cursor.take(",")


@dataclass
class _Objects:
    """The items of a ``request.objects`` array, converted as they were read when the desired
    version was known by then."""

    offset: int  # where the array starts, to read it again
    desired: str | None  # what they were converted to, if they were
    count: int = 0
    not_an_object: int | None = None  # the first item that is not an object
    failure: dict[str, str] | None = None  # the first conversion that failed
    parts: list[bytes] = field(default_factory=list)  # the converted items' JSON, separated


def _read_objects(cursor: _Cursor, desired: Any) -> _Objects:
    wanted = desired if isinstance(desired, str) and desired else None
    objects = _Objects(cursor.offset(), wanted)
    for _ in _items(cursor):
        item = cursor.value()
        objects.count += 1
        if not isinstance(item, dict):
            if objects.not_an_object is None:
                objects.not_an_object = objects.count - 1
                objects.parts.clear()
            continue
        if wanted is None or objects.failure is not None or objects.not_an_object is not None:
            continue  # the items are only checked
        try:
            converted = convert(item, wanted)
        except Exception as exc:  # as convert_review: this fails the review
            objects.failure = conversion_failure(exc)
            objects.parts.clear()
            continue
        try:
            encoded = json.dumps(converted).encode()
        except UNPROCESSABLE:
            raise Irregular from None  # the reference fails the whole answer: let it say how
        if objects.parts:
            objects.parts.append(_SEPARATOR)
        objects.parts.append(encoded)
    return objects


def _read_request(cursor: _Cursor) -> tuple[dict[str, Any], _Objects | None]:
    """The request with ``objects: []`` standing for its items, and those items."""
    request: dict[str, Any] = {}
    objects = None
    for key in _members(cursor):
        if key == "objects" and cursor.peek() == "[":
            objects = _read_objects(cursor, request.get("desiredAPIVersion"))
            request[key] = []
        else:
            request[key] = cursor.value()
            if key == "objects":
                objects = None
    return request, objects


def _read_review(raw: Body) -> tuple[dict[str, Any], _Objects | None, _Cursor]:
    """The review as json.loads reads it (the last of repeated keys wins) but for the items
    of its request's objects; and those items."""
    cursor = _cursor(raw)
    review: dict[str, Any] = {}
    objects = None
    if cursor.peek() != "{":
        raise Irregular  # the reference says what it is instead
    for key in _members(cursor):
        if key == "request" and cursor.peek() == "{":
            review[key], objects = _read_request(cursor)
        else:
            review[key] = cursor.value()
            if key == "request":
                objects = None
    if cursor.peek() != "":
        raise Irregular  # extra data
    return review, objects, cursor


def fast_answer(raw: Body) -> Answer:
    """The answer, a piece at a time; :class:`Irregular` where only the reference can say."""
    review, objects, cursor = _read_review(raw)
    try:
        uid, desired, _ = review_request(review)
    except BadReview as error:
        return refusal(str(error))
    except UNPROCESSABLE as error:
        return refusal(f"the review cannot be processed: {str(error)[:200]}")
    assert objects is not None  # review_request found the list, which only _read_objects makes
    if objects.not_an_object is not None:
        return refusal(str(not_an_object(objects.not_an_object)))
    if objects.desired != desired:  # the version came after the objects (or changed): again
        objects = _read_objects(cursor.at(objects.offset), desired)
    if objects.failure is not None:
        return Answer(200, [json.dumps(review_answer(uid, objects.failure)).encode()])
    empty = json.dumps(review_answer(uid, {"status": "Success"}, [])).encode()
    closing = b"]}}"  # after the converted objects, the last value of the last object
    assert empty.endswith(b"[" + closing)
    return Answer(200, [empty[: -len(closing)], *objects.parts, closing])


def uid_in(prefix: bytes) -> str | None:
    """The request uid near the start of a review body, if it is there."""
    text = prefix.decode("utf-8", "ignore")  # the prefix may end within a character
    try:
        cursor = _Cursor(b"", 0, text)
        for key in _members(cursor):
            if key != "request" or cursor.peek() != "{":
                cursor.value()
                continue
            for inner in _members(cursor):
                uid = cursor.value()
                if inner == "uid":
                    return uid if isinstance(uid, str) and uid else None
            return None
    except Irregular:
        pass
    return None


# --- the conversion process -----------------------------------------------------------------


def _limit_memory(body_bytes: int) -> None:
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as adj:
        adj.write("1000")
    try:
        import resource

        with open("/proc/self/status") as status:
            (line,) = [line for line in status if line.startswith("VmSize:")]
    except (ImportError, OSError, ValueError):
        return
    budget = int(line.split()[1]) * 1024 + MEMORY_PER_BODY_BYTE * body_bytes + MEMORY_MARGIN_BYTES
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        budget = min(budget, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (budget, hard))


def _read_body(size: int, limit: int) -> bytearray:
    stdin: Any = sys.stdin.buffer
    if size < 0:
        return bytearray(stdin.read(limit + 1))
    body = bytearray(size)
    view, got = memoryview(body), 0
    while got < size:
        count = stdin.readinto(view[got:])
        if not count:
            break
        got += count
    view.release()
    del body[got:]
    return body


def main() -> None:
    size, limit = int(sys.argv[1]), int(sys.argv[2])
    _limit_memory(limit if size < 0 else size)
    try:
        raw = _read_body(size, limit)
        result = answer(raw) if len(raw) <= limit else refusal("the body is too large", 413)
        del raw
    except MemoryError:
        result = refusal(
            "converting this review takes more memory than the webhook allows for a body of "
            f"its size ({MEMORY_PER_BODY_BYTE} times, plus {MEMORY_MARGIN_BYTES >> 20} MiB)",
            413,
        )
    # The server stops reading only when its client went away: nothing to say then.
    with (
        contextlib.suppress(BrokenPipeError),
        open(sys.stdout.fileno(), "wb", buffering=256 * 1024, closefd=False) as out,
    ):
        out.write(f"{result.status} {result.size}\n".encode())
        out.writelines(result.parts)


if __name__ == "__main__":
    main()
