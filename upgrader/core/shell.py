"""The one place commands shown to a person are built: every value quoted by shell rules.

A node group, an Auto Scaling group or a namespace name comes from the cluster, and AWS allows
`;$(){}` and more in some of them: a runbook line built by plain string formatting turns a name
like `legacy;touch${IFS}pwned;#` into a payload that runs when the line is pasted. So:

- `command(*argv)` joins an argv with `shlex.quote` on each word;
- `fill_command(template, values)` fills a runbook command template, quoting each value for
  the quoting context it lands in (bare, inside '...' or inside "..."), so that the template's
  own quoting (a JSON literal in single quotes, say) stays intact and the value stays one word
  part. A value that is itself trusted shell text built here (`Raw`) goes in as is;
- `comment(text)` makes text safe after a `#`: a line break would end the comment and run
  whatever follows it, so control characters become visible escapes.

Markdown has its own escaping (`md_text`, `md_code`, `md_fence`), for what GitHub would read as
HTML or as the end of a code span.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Mapping

__all__ = [
    "Raw",
    "command",
    "comment",
    "fill_command",
    "md_code",
    "md_fence",
    "md_text",
    "quote",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]")


class Raw(str):
    """Shell text eksup built itself with this module: inserted into a command unquoted."""

    __slots__ = ()


def quote(value: str) -> str:
    """One shell word that is exactly `value` once parsed (shlex rules)."""
    return value if isinstance(value, Raw) else shlex.quote(value)


def command(*argv: str) -> str:
    """An argv as one line that `shlex.split` (and a POSIX shell) parse back to `argv`."""
    return " ".join(quote(word) for word in argv)


def comment(text: str) -> str:
    """Text that cannot leave a `# ...` comment: line breaks and other control characters are
    shown escaped (`\\n`) instead of ending the line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def fill_command(template: str, values: Mapping[str, str]) -> str:
    """Fill `{name}` placeholders of a command template with shell-quoted values; a name with
    no value stays visible as `<name>` (a placeholder for a person to replace)."""
    out: list[str] = []
    state = _State()
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        out.append(literal)
        state.feed(literal)
        if name is None:
            continue
        if name in values:
            out.append(state.embed(values[name]))
        else:
            out.append(f"<{name}>")
            state.feed(f"<{name}>")
    return "".join(out)


class _State:
    """Which quotes are open after the literal text seen so far (POSIX sh rules)."""

    def __init__(self) -> None:
        self.mode = ""  # "", "'" or '"'
        self.escaped = False

    def feed(self, text: str) -> None:
        for char in text:
            if self.escaped:
                self.escaped = False
            elif self.mode == "'":
                if char == "'":
                    self.mode = ""
            elif char == "\\":
                self.escaped = True
            elif self.mode == '"':
                if char == '"':
                    self.mode = ""
            elif char in "'\"":
                self.mode = char

    def embed(self, value: str) -> str:
        word = quote(value)
        if word == value:  # nothing a shell reads specially, in or out of quotes
            return value
        if self.mode:  # close the template's quote, add the quoted value, open it again
            return f"{self.mode}{word}{self.mode}"
        return word


_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def md_text(text: str) -> str:
    """Prose for Markdown: `<cluster>` would be dropped by GitHub as an unknown HTML tag, and
    `&lt;` would show as `<`. A `>` starts nothing in the middle of a line and stays."""
    return _ENTITY.sub("&amp;", text).replace("<", "&lt;")


def md_code(text: str) -> str:
    """An inline code span that holds `text` whatever backticks it contains."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{comment(text)}{pad}{ticks}"


def md_fence(text: str) -> str:
    """A code fence longer than any backtick run in `text`, so a line of it cannot close it."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=0)
    return "`" * max(3, longest + 1)
