"""String helpers: case, trimming, searching, splitting and joining."""

from __future__ import annotations

from typing import Any

from shaobing.templates.dsl.errors import HelperFailure, detail
from shaobing.templates.dsl.helpers.registry import helper
from shaobing.templates.dsl.regex import check_subject, safe_regex
from shaobing.templates.dsl.values import (
    MAX_VALUE_LENGTH,
    as_int,
    as_text,
    check_length,
    is_stringish,
    render,
    short,
    values_equal,
)


def _text(args: list[Any], index: int) -> str:
    return as_text(args[index])


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


@helper("len", 1)
def len_(args: list[Any]) -> int:
    """Length of a string (bytes of its UTF-8 form, as Go's len) or of an array."""
    value = args[0]
    if isinstance(value, list | tuple | dict):
        return len(value)
    if isinstance(value, bytes):
        return len(value)
    return len(as_text(value).encode("utf-8", "surrogatepass"))


@helper("to_upper", 1)
def to_upper(args: list[Any]) -> str:
    """Upper-case the input."""
    return _text(args, 0).upper()


@helper("to_lower", 1)
def to_lower(args: list[Any]) -> str:
    """Lower-case the input."""
    return _text(args, 0).lower()


@helper("to_title", 1, 2)
def to_title(args: list[Any]) -> str:
    """Title-case the input (the optional language is accepted and ignored)."""
    return _text(args, 0).title()


@helper("sort", 1, None)
def sort(args: list[Any]) -> str | list[str]:
    """Sort the characters of one string, or several arguments as strings."""
    if len(args) == 1:
        return "".join(sorted(_text(args, 0)))
    return sorted(as_text(arg) for arg in args)


@helper("uniq", 1, None)
def uniq(args: list[Any]) -> str | list[str]:
    """Drop repeated characters of one string, or repeated arguments, keeping order."""
    if len(args) == 1:
        return "".join(dict.fromkeys(_text(args, 0)))
    return list(dict.fromkeys(as_text(arg) for arg in args))


@helper("repeat", 2)
def repeat(args: list[Any]) -> str:
    """Repeat a string; the result is bounded by MAX_VALUE_LENGTH."""
    text, count = _text(args, 0), as_int(args[1])
    if count < 0:
        raise HelperFailure(detail("bad_argument", value=count))
    if len(text) * count > MAX_VALUE_LENGTH:
        raise HelperFailure(
            detail("result_too_large", length=len(text) * count, limit=MAX_VALUE_LENGTH)
        )
    return text * count


@helper("replace", 3)
def replace(args: list[Any]) -> str:
    """Replace every occurrence of a substring."""
    text, old, new = _text(args, 0), _text(args, 1), _text(args, 2)
    if old == "" and len(text) * (len(new) + 1) > MAX_VALUE_LENGTH:
        raise HelperFailure(detail("result_too_large", length=len(text), limit=MAX_VALUE_LENGTH))
    result = text.replace(old, new)
    check_length(result)
    return result


def _go_replacement(template: str) -> str:
    # Go writes group references as $1 / ${name}; Python's sub wants \g<1> / \g<name>.
    out: list[str] = []
    i = 0
    while i < len(template):
        char = template[i]
        if char == "\\":
            out.append("\\\\")
        elif char == "$" and i + 1 < len(template):
            nxt = template[i + 1]
            if nxt == "$":
                out.append("$")
                i += 1
            elif nxt == "{" and "}" in template[i:]:
                end = template.index("}", i)
                out.append(f"\\g<{template[i + 2 : end]}>")
                i = end
            elif nxt.isalnum() or nxt == "_":
                j = i + 1
                while j < len(template) and (template[j].isalnum() or template[j] == "_"):
                    j += 1
                out.append(f"\\g<{template[i + 1 : j]}>")
                i = j - 1
            else:
                out.append(char)
        else:
            out.append(char)
        i += 1
    return "".join(out)


@helper("replace_regex", 3)
def replace_regex(args: list[Any]) -> str:
    """Replace every match of a regular expression ($1 / ${name} group references)."""
    text = _text(args, 0)
    check_subject(text)
    pattern = safe_regex(_text(args, 1))
    try:
        result = pattern.sub(_go_replacement(_text(args, 2)), text)
    except (IndexError, ValueError, KeyError) as error:
        raise HelperFailure(detail("bad_argument", value=short(str(error)))) from None
    check_length(result)
    return result


@helper("trim", 2)
def trim(args: list[Any]) -> str:
    """Strip leading and trailing characters contained in the cutset."""
    return _text(args, 0).strip(_text(args, 1))


@helper("trim_left", 2)
def trim_left(args: list[Any]) -> str:
    """Strip leading characters contained in the cutset."""
    return _text(args, 0).lstrip(_text(args, 1))


@helper("trim_right", 2)
def trim_right(args: list[Any]) -> str:
    """Strip trailing characters contained in the cutset."""
    return _text(args, 0).rstrip(_text(args, 1))


@helper("trim_space", 1)
def trim_space(args: list[Any]) -> str:
    """Strip leading and trailing white space."""
    return _text(args, 0).strip()


@helper("trim_prefix", 2)
def trim_prefix(args: list[Any]) -> str:
    """Remove a leading prefix once."""
    return _text(args, 0).removeprefix(_text(args, 1))


@helper("trim_suffix", 2)
def trim_suffix(args: list[Any]) -> str:
    """Remove a trailing suffix once."""
    return _text(args, 0).removesuffix(_text(args, 1))


@helper("remove_bad_chars", 2)
def remove_bad_chars(args: list[Any]) -> str:
    """Remove every character of the cutset from the input."""
    bad = set(_text(args, 1))
    return "".join(char for char in _text(args, 0) if char not in bad)


@helper("reverse", 1)
def reverse(args: list[Any]) -> str:
    """Reverse the characters of the input."""
    return _text(args, 0)[::-1]


@helper("contains", 2)
def contains(args: list[Any]) -> bool:
    """True when the input contains the substring."""
    return _text(args, 1) in _text(args, 0)


@helper("contains_all", 2, None)
def contains_all(args: list[Any]) -> bool:
    """True when the input contains every substring."""
    body = _text(args, 0)
    return all(as_text(arg) in body for arg in args[1:])


@helper("contains_any", 2, None)
def contains_any(args: list[Any]) -> bool:
    """True when the input contains at least one substring."""
    body = _text(args, 0)
    return any(as_text(arg) in body for arg in args[1:])


@helper("starts_with", 2, None)
def starts_with(args: list[Any]) -> bool:
    """True when the input starts with any of the prefixes."""
    return _text(args, 0).startswith(tuple(as_text(arg) for arg in args[1:]))


@helper("ends_with", 2, None)
def ends_with(args: list[Any]) -> bool:
    """True when the input ends with any of the suffixes."""
    return _text(args, 0).endswith(tuple(as_text(arg) for arg in args[1:]))


@helper("line_starts_with", 2, None)
def line_starts_with(args: list[Any]) -> bool:
    """True when any line of the input starts with any of the prefixes."""
    prefixes = tuple(as_text(arg) for arg in args[1:])
    return any(line.startswith(prefixes) for line in _text(args, 0).split("\n"))


@helper("line_ends_with", 2, None)
def line_ends_with(args: list[Any]) -> bool:
    """True when any line of the input ends with any of the suffixes."""
    suffixes = tuple(as_text(arg) for arg in args[1:])
    return any(line.endswith(suffixes) for line in _text(args, 0).split("\n"))


@helper("concat", 0, None)
def concat(args: list[Any]) -> str:
    """Concatenate the arguments as text."""
    result = "".join(render(arg) for arg in args)
    check_length(result)
    return result


@helper("join", 2, None)
def join(args: list[Any]) -> str:
    """Join the elements (or one array) with the separator."""
    separator = _text(args, 0)
    elements = _items(args[1]) if len(args) == 2 else args[1:]
    result = separator.join(render(element) for element in elements)
    check_length(result)
    return result


@helper("split", 2, 3)
def split(args: list[Any]) -> list[str]:
    """Split by a separator (optionally at most n parts), or into chunks of n characters."""
    text = _text(args, 0)
    second = _text(args, 1)
    if len(args) == 2:
        if second.lstrip("-").isdigit():
            size = int(second)
            if size <= 0:
                raise HelperFailure(detail("bad_argument", value=size))
            return [text[i : i + size] for i in range(0, len(text), size)]
        return _go_split(text, second, -1)
    return _go_split(text, second, as_int(args[2]))


def _go_split(text: str, separator: str, count: int) -> list[str]:
    if count == 0:
        return []
    if separator == "":
        chars = list(text)
        if 0 < count < len(chars):
            return [*chars[: count - 1], "".join(chars[count - 1 :])]
        return chars
    return text.split(separator, count - 1 if count > 0 else -1)


@helper("regex", 2)
def regex(args: list[Any]) -> bool:
    """True when the pattern (first argument) matches the input."""
    text = _text(args, 1)
    check_subject(text)
    return safe_regex(_text(args, 0)).search(text) is not None


@helper("regex_all", 2, None)
def regex_all(args: list[Any]) -> bool:
    """True when every pattern matches the input (first argument)."""
    text = _text(args, 0)
    check_subject(text)
    patterns = [p for arg in args[1:] for p in _items(arg)]
    return all(safe_regex(as_text(p)).search(text) is not None for p in patterns)


@helper("regex_any", 2, None)
def regex_any(args: list[Any]) -> bool:
    """True when any pattern matches the input (first argument)."""
    text = _text(args, 0)
    check_subject(text)
    patterns = [p for arg in args[1:] for p in _items(arg)]
    return any(safe_regex(as_text(p)).search(text) is not None for p in patterns)


@helper("equals_any", 2, None)
def equals_any(args: list[Any]) -> bool:
    """True when the first argument equals any of the others."""
    first = args[0]
    candidates = [c for arg in args[1:] for c in _items(arg)]
    if is_stringish(first):
        return any(as_text(c) == as_text(first) for c in candidates if is_stringish(c))
    return any(values_equal(first, c) for c in candidates)


@helper("count", 2)
def count(args: list[Any]) -> int:
    """Number of non-overlapping occurrences of a substring."""
    text, sub = _text(args, 0), _text(args, 1)
    return len(text) + 1 if sub == "" else text.count(sub)


@helper("index", 2)
def index(args: list[Any]) -> str:
    """Element at a zero-based index of an array, or character of a string."""
    position = as_int(args[1])
    value = args[0]
    sequence: list[Any] | str = list(value) if isinstance(value, list | tuple) else as_text(value)
    if not 0 <= position < len(sequence):
        raise HelperFailure(detail("index_out_of_range", index=position))
    return render(sequence[position])


@helper("substr", 2, 3)
def substr(args: list[Any]) -> str:
    """Substring from start to the optional end (end exclusive)."""
    text = _text(args, 0)
    start = as_int(args[1])
    end = as_int(args[2]) if len(args) == 3 else len(text)
    if not 0 <= start <= end <= len(text):
        raise HelperFailure(detail("index_out_of_range", index=f"{start}:{end}"))
    return text[start:end]


@helper("to_string", 1)
def to_string(args: list[Any]) -> str:
    """Render the value as text."""
    return render(args[0])


@helper("padding", 3, 4)
def padding(args: list[Any]) -> str:
    """Pad the input to a length with a repeated pad string ('prefix' or 'suffix' mode)."""
    text, pad, length = _text(args, 0), _text(args, 1), as_int(args[2])
    mode = _text(args, 3) if len(args) == 4 else "suffix"
    if length <= 0 or pad == "" or mode not in ("prefix", "suffix"):
        raise HelperFailure(detail("bad_argument", value=f"{pad!r}, {length}, {mode!r}"))
    if length > MAX_VALUE_LENGTH:
        raise HelperFailure(detail("result_too_large", length=length, limit=MAX_VALUE_LENGTH))
    if len(text) >= length:
        return text
    fill = (pad * (length // len(pad) + 1))[: length - len(text)]
    return fill + text if mode == "prefix" else text + fill


@helper("print_debug", 1, None)
def print_debug(args: list[Any]) -> bool:
    """Nuclei prints its arguments; the engine stays silent and returns true."""
    return True
