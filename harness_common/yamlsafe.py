"""The one strict YAML reader of the harness: UTF-8 only, no duplicate keys, no aliases, bounded.

PyYAML's safe_load silently keeps the last of two equal keys and expands aliases (a "billion
laughs" document is a few hundred bytes and gigabytes in memory); specs, experiments and chaos
schedules are small hand-written text, so both are refused, naming the line:

    load_documents(data, "slos.yaml", what="spec", error=SpecError) -> [doc, ...]

Several documents (`---`) come back in file order. With `expand_lists=True` a document that is
a YAML list (OpenSLO's own examples are lists of objects) is read as its items, each one a
document of its own, numbered in file order.

Every problem raises `error(source, message)` (an InputError subclass of the caller's), so the
message starts with the file's name.
"""

import yaml

from harness_common.errors import InputError

MAX_BYTES = 1024 * 1024


def _loader(what: str):
    class StrictLoader(yaml.SafeLoader):
        """SafeLoader that rejects duplicate mapping keys and aliases."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"YAML aliases (*{event.anchor}) are not allowed in a {what}; write the "
                    "values out",
                    event.start_mark,
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        "found an unhashable key; keys must be plain strings", key_node.start_mark,
                    ) from None
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None,
                        f"duplicate key {key!r} (first on line {first + 1}); each key may "
                        "appear once",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def _describe(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}invalid YAML: {problem}"


def load_documents(data: bytes, source: str, *, what: str = "spec",
                   error: type[InputError] = InputError, max_bytes: int = MAX_BYTES,
                   example: str | None = None, expand_lists: bool = False) -> list:
    """Decode and parse every YAML document in `data`; `error(source, ...)` when unreadable.

    `expand_lists`: a document that is a list stands for its items (one document each)."""
    if len(data) > max_bytes:
        raise error(source, f"the file is larger than {max_bytes // 1024} KiB; a {what} is a "
                            "small hand-written file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise error(source, f"not valid UTF-8 (byte 0x{data[err.start]:02x} at offset "
                            f"{err.start}); save the file as UTF-8") from None
    try:
        docs = [doc for doc in yaml.load_all(text, Loader=_loader(what))  # noqa: S506 - safe
                if doc is not None]
    except yaml.YAMLError as err:
        raise error(source, _describe(err)) from None
    except RecursionError:
        raise error(source, f"invalid YAML: nested too deeply; a {what} is a few levels "
                            "deep") from None
    except (ValueError, OverflowError) as err:  # e.g. a 5000-digit integer, a bad !!timestamp
        reason = ("a number has more than 4300 digits" if "digits" in str(err)
                  else str(err)[:200])
        raise error(source, f"invalid YAML value: {reason}; write plain numbers, strings "
                            "and durations") from None
    if not docs:
        hint = f"start from {example}" if example else f"it should hold a {what}"
        raise error(source, f"the file is empty; {hint}")
    if expand_lists:
        docs = [item for doc in docs for item in (doc if isinstance(doc, list) else [doc])]
        if not docs:
            raise error(source, f"the file holds only empty lists; it should hold a {what}")
    return docs
