"""The email layout around a step's body, rendered once per clinic and filled per message.

Every email of a clinic shares its layout (`_layout/email.html.j2`, `.txt.j2`): the
clinic's name and address, and two things that differ per message, the body and the
signed unsubscribe link. Rendering the layout for each message repeats the same work, so
a layout that reads nothing else per message is rendered once with placeholders where
the body and the signed links go (a `Frame`), and each message fills them in: exactly the
text the layout renders, as each value is written where its placeholder is (escaped as
Jinja escapes it in an HTML layout).

A layout is framed only when that holds by its shape (`frameable`): it names no variable
but `clinic`, `links` and `body`; it writes the body and the signed links straight out,
never tests, filters or passes them on; it picks nothing at random; and nothing in it
reads output back (`md_once.renders_once`). Any other layout (one that greets the
prospect by name, say) is rendered for each message, as before. A frame is kept per
clinic settings (the clinic's part of the context is the only other thing it holds),
once the first message's layout rendered in full has shown it fills to the same text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.meta import find_undeclared_variables
from markupsafe import Markup, escape

from nurture.content.context import SIGNED_LINKS
from nurture.content.md_once import renders_once

#: A hole is `_OPEN index _CLOSE`: private-use characters. (A clinic's settings holding
#: them are caught by the first message's check: its frame filled is not its render.)
_OPEN, _CLOSE = "\ue002", "\ue003"
_HOLE = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
#: What a frame names; `body` and the signed links are the holes.
_NAMES = frozenset({"clinic", "links", "body"})


def frameable(template: nodes.Template) -> bool:
    """Whether the layout `template` (parsed) can be framed: see the module's docstring."""
    if not renders_once(template) or not find_undeclared_variables(template) <= _NAMES:
        return False
    # A different pick for each message (Jinja's globals are not in the undeclared names).
    if any(f.name == "random" for f in template.find_all(nodes.Filter)):
        return False
    if any(n.name == "lipsum" for n in template.find_all(nodes.Name)):
        return False
    written: set[int] = set()
    for output in template.find_all(nodes.Output):
        written |= {id(child) for child in output.nodes if _hole_key(child) is not None}
    for node in template.find_all((nodes.Name, nodes.Getattr, nodes.Getitem)):
        key = _hole_key(node)
        if key is not None and id(node) not in written:
            return False  # a hole tested, filtered or passed on
    for name in template.find_all(nodes.Name):
        if name.name == "links" and not _under_clinic_link(template, name):
            return False
    return True


def _hole_key(node: nodes.Node) -> str | None:
    """`body`, or the signed link's key, when `node` is one of them."""
    if isinstance(node, nodes.Name) and node.name == "body":
        return "body"
    key = _links_key(node)
    return key if key in SIGNED_LINKS else None


def _links_key(node: nodes.Node) -> str | None:
    """The key of `links.key` / `links["key"]`, when `node` is one. A name the mapping has
    as an attribute (`links.get`, `links.items`, `links._sign`) is no key: the sandbox
    gives the attribute, which reaches every link."""
    key = None
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        key = node.attr if node.node.name == "links" else None
    elif isinstance(node, nodes.Getitem) and isinstance(node.node, nodes.Name):
        arg = node.arg
        if node.node.name == "links" and isinstance(arg, nodes.Const):
            key = arg.value if isinstance(arg.value, str) else None
    if key is None or key.startswith("_") or hasattr(Mapping, key):
        return None
    return key


def _under_clinic_link(template: nodes.Template, name: nodes.Name) -> bool:
    """Whether this use of `links` is `links.key` with a constant key (a clinic link or a
    signed one: either is a hole or the same for every message)."""
    for node in template.find_all((nodes.Getattr, nodes.Getitem)):
        if getattr(node, "node", None) is name:
            return _links_key(node) is not None
    return False


@dataclass(frozen=True)
class Frame:
    """A layout rendered with holes, and what goes in each: "body" or a signed link."""

    text: str
    holes: tuple[str, ...]
    escaped: bool

    def fill(self, body: str, links: Mapping[str, Any]) -> str:
        """The layout for one message: its body, and its signed links as the layout
        writes them (escaped in an HTML layout, as Jinja's autoescape does)."""

        def value(m: re.Match[str]) -> str:
            hole = self.holes[int(m.group(1))]
            if hole == "body":
                return body
            return str(escape(links[hole])) if self.escaped else str(links[hole])

        return _HOLE.sub(value, self.text)


class _Holes(Mapping[str, Any]):
    """A message's links as a frame sees them: the signed ones are holes."""

    def __init__(self, links: Mapping[str, Any], holes: list[str]) -> None:
        self._links, self._holes = links, holes

    def __getitem__(self, key: str) -> Any:
        if key not in SIGNED_LINKS:
            return self._links[key]
        self._holes.append(key)
        return Markup(f"{_OPEN}{len(self._holes) - 1}{_CLOSE}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._links)

    def __len__(self) -> int:
        return len(self._links)


def frame_context(context: Mapping[str, Any], holes: list[str]) -> dict[str, Any]:
    """The context a frame is rendered with: the clinic, the links with holes, the body
    a hole (`holes` collects what each hole is, in order)."""
    holes.append("body")
    return {
        "clinic": context["clinic"],
        "links": _Holes(context["links"], holes),
        "body": Markup(f"{_OPEN}0{_CLOSE}"),
    }
