"""Markdown steps (`NAME.md.j2`): one source makes the email's HTML body and its plain text.

Jinja runs first; every value it interpolates is Markdown-escaped (`escape_markdown`), so a
prospect's name cannot add markup or a link. Then markdown-it-py (CommonMark, raw HTML off,
`{.class}` attributes on) makes the HTML body, and `md_text` walks the same tokens for a
readable plain-text part: links as `text (url)`, lists as `- item` / `1. item`.

Both come from one parse. A step's paragraphs are mostly the same for every prospect (only
the greeting and the links change), so the inline parse of a paragraph is kept by its
text (`_inline_tokens`): the same text always parses to the same tokens, and a paragraph
seen before costs a dictionary lookup.

The block structure (paragraphs, lists, headings, code) is kept too, by the step's
*skeleton*: its source with each interpolated value replaced by a placeholder
(`Skeleton`, `to_parts_of`). A value can change the block structure only through what
starts a line or makes one blank, so the kept structure is used only when every value
passes `_fits` (no line break, no space at either end, and a letter or an escape first
where nothing but markers precedes it on its line); anything else is parsed in full.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.rules_core import inline as parse_inlines
from markdown_it.token import Token
from markupsafe import Markup
from mdit_py_plugins.attrs import attrs_block_plugin, attrs_plugin

from nurture.content.md_text import inline_text, plain_text

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": False})
    return md.use(attrs_plugin).use(attrs_block_plugin)


#: Parses what `_MD` has not seen yet (the same rules, no cache).
_UNCACHED = _parser()
#: Paragraph texts whose inline tokens are kept; a few steps' worth of each sequence.
INLINE_CACHE_SIZE = 4096


@lru_cache(maxsize=INLINE_CACHE_SIZE)
def _inline_tokens(content: str) -> tuple[Token, ...]:
    """The inline tokens of one paragraph's (or heading's, list item's) text, as the full
    parse makes them: the inline rules, then the core rules after them (`text_join`).

    Shared by every message that has this text: nothing downstream changes them (the
    renderers read tokens; `text_join` finds them already joined).
    """
    [paragraph] = _UNCACHED.parseInline(content)
    return tuple(paragraph.children or ())


def _cached_inlines(state: StateCore) -> None:
    """The core `inline` rule, with each text's tokens from `_inline_tokens`.

    A document with reference definitions (`[label]: url`) parses its inlines as usual:
    its links depend on more than their own text.
    """
    if state.env.get("references"):
        parse_inlines(state)
        return
    for token in state.tokens:
        if token.type == "inline":
            token.children = list(_inline_tokens(token.content))


_MD = _parser()
_MD.core.ruler.at("inline", _cached_inlines)


def escape_markdown(value: Any) -> Any:
    """Jinja `finalize` for Markdown templates: a value reads as text, never as markup.

    Every ASCII punctuation character is backslash-escaped (CommonMark undoes the escape, in
    text and in link destinations alike); `Markup` values (`|safe`) pass unchanged.
    Inside `recording`, the value is kept and a placeholder stands in its place.
    """
    escaped = value if isinstance(value, Markup) else _PUNCTUATION.sub(r"\\\1", str(value))
    values = _recording.get()
    if values is None:
        return escaped
    values.append(str(escaped))
    return f"{_OPEN}{len(values) - 1}{_CLOSE}"


@pass_eval_context
def finalize(_: EvalContext, value: Any) -> Any:
    """`escape_markdown` as the Markdown environment's `finalize`. It takes the evaluation
    context only so that Jinja never applies it while compiling: Jinja finalizes a constant
    output (`{{ "a*b" }}`) at compile time when it can, and a template first compiled
    inside `recording` would then keep a placeholder in its code for every later message."""
    return escape_markdown(value)


#: A placeholder is `_OPEN index _CLOSE`: private-use characters, plain text to Markdown.
_OPEN, _CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_recording: ContextVar[list[str] | None] = ContextVar("nurture_md_values", default=None)


@contextmanager
def recording() -> Iterator[list[str]]:
    """While open, `escape_markdown` keeps each value (escaped) in the list it yields and
    returns a placeholder: what a template renders then is its skeleton."""
    values: list[str] = []
    token = _recording.set(values)
    try:
        yield values
    finally:
        _recording.reset(token)


@dataclass(frozen=True)
class Skeleton:
    """A Markdown template rendered with placeholders, and the values that fill them."""

    text: str
    values: tuple[str, ...]

    def fill(self) -> str:
        return _PLACEHOLDER.sub(lambda m: self.values[int(m.group(1))], self.text)


def render_both(render: Callable[[], str], *, once: bool = False) -> tuple[str, Skeleton | None]:
    """The source `render()` makes, and its skeleton when the skeleton fills back to exactly
    that source (a template that reworks its own output, e.g. with `{% set %}` blocks, or
    holds the placeholder characters itself, has none).

    `once`: the template reads none of its output back (`md_once.renders_once`), so the
    skeleton filled is its source, without a second render."""
    with recording() as values:
        text = render()
    skeleton = Skeleton(text, tuple(values))
    if once and text.count(_OPEN) == len(values):
        return skeleton.fill(), skeleton
    source = render()
    if text.count(_OPEN) != len(values) or skeleton.fill() != source:
        return source, None
    return source, skeleton


def to_parts(source: str) -> tuple[str, str]:
    """The email body's HTML and plain text from Markdown, from one parse."""
    env: dict[str, Any] = {}
    tokens = _MD.parse(source, env)
    return str(_MD.renderer.render(tokens, _MD.options, env)), plain_text(tokens)


def to_parts_of(source: str, skeleton: Skeleton | None) -> tuple[str, str]:
    """`to_parts(source)`, with the block structure kept for `skeleton` when its values
    cannot change it (`_fits`); `source` is what `skeleton` fills to."""
    shape = None if skeleton is None else _shape(skeleton.text)
    if shape is None or skeleton is None or not _fits(shape, skeleton.values):
        return to_parts(source)
    values = [v.replace("\0", "\ufffd") for v in skeleton.values]  # as `normalize` does

    def filled(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: values[int(m.group(1))], text)

    tokens = list(shape.tokens)
    for i in shape.holding:
        token = tokens[i]
        content = filled(token.content)
        if token.type == "inline":
            tokens[i] = token.copy(content=content, children=list(_inline_tokens(content)))
        else:  # fence, code_block: the text as it stands
            tokens[i] = token.copy(content=content)
    html = [_html_of(tokens, i) if part is None else part for i, part in enumerate(shape.html)]
    return "".join(html), plain_text(tokens, shape.texts)


def _html_of(tokens: list[Token], i: int) -> str:
    """Token `i`'s HTML, as `RendererHTML.render` makes it: a token's HTML depends on it and
    on its neighbours' kind (which a skeleton fixes), so a token without a placeholder
    renders the same for every message."""
    token, renderer = tokens[i], cast(RendererHTML, _MD.renderer)
    if token.type == "inline":
        return renderer.renderInline(token.children, _MD.options, {}) if token.children else ""
    if token.type in renderer.rules:
        return str(renderer.rules[token.type](tokens, i, _MD.options, {}))
    return str(renderer.renderToken(tokens, i, _MD.options, {}))


@dataclass(frozen=True)
class _Shape:
    """A skeleton's block tokens (inline children filled in where it holds no placeholder),
    which of them hold placeholders, and the placeholders starting a line's text; the HTML
    of each token, and the plain text of each inline one, where it holds no placeholder."""

    tokens: tuple[Token, ...]
    holding: tuple[int, ...]
    line_start: frozenset[int]
    html: tuple[str | None, ...]
    texts: tuple[str | None, ...]


#: Block parse only: the inline rules run per message, on the filled text.
_BLOCKS = _parser().disable(["inline", "text_join"])
#: Skeletons whose block structure is kept: a few dozen steps and branches.
SHAPE_CACHE_SIZE = 256


@lru_cache(maxsize=SHAPE_CACHE_SIZE)
def _shape(skeleton: str) -> _Shape | None:
    """The block structure of `skeleton`, or None when a value could change it wherever it
    stands: reference definitions (links then depend on the whole document), placeholders
    in a `{...}` attribute line, a fence's info string or any token's attributes."""
    for line in skeleton.split("\n"):
        if _OPEN in line and line.lstrip().startswith("{"):
            return None
    env: dict[str, Any] = {}
    tokens = _BLOCKS.parse(skeleton, env)
    if env.get("references"):
        return None
    holding: list[int] = []
    for i, token in enumerate(tokens):
        outside = f"{token.info}{token.markup}{token.attrs}{token.meta}"
        if _OPEN in outside:
            return None
        if _OPEN in token.content:
            if token.type not in ("inline", "fence", "code_block"):
                return None
            holding.append(i)
        elif token.type == "inline":
            tokens[i] = token.copy(children=list(_inline_tokens(token.content)))
    line_start = set()
    for m in _PLACEHOLDER.finditer(skeleton):
        before = skeleton[skeleton.rfind("\n", 0, m.start()) + 1 : m.start()]
        if not any(c.isascii() and c.isalpha() for c in before):
            line_start.add(int(m.group(1)))
    html = tuple(None if i in holding else _html_of(tokens, i) for i in range(len(tokens)))
    texts = tuple(
        inline_text(t.children or []) if t.type == "inline" and i not in holding else None
        for i, t in enumerate(tokens)
    )
    return _Shape(tuple(tokens), tuple(holding), frozenset(line_start), html, texts)


def _fits(shape: _Shape, values: tuple[str, ...]) -> bool:
    """Whether `values` leave `shape`'s block structure as it is.

    Block rules look at a line's first characters (markers, indentation), at lines made of
    markers only (rules, underlines, fences), and at blank lines; a paragraph's or
    heading's text is stripped at its ends. So: a value holds no line break and no space
    at either end (it is never empty, so never blanks a line), and where no ASCII letter
    precedes it on its line, it starts with a letter or a backslash (an escape).
    """
    for i, value in enumerate(values):
        if not value or value != value.strip() or "\n" in value or "\r" in value:
            return False
        if i in shape.line_start and not (value[0].isalpha() or value[0] == "\\"):
            return False
    return True


def to_html(source: str) -> str:
    """The email body's HTML from Markdown (raw HTML in the source is shown as text)."""
    return to_parts(source)[0]


def to_text(source: str) -> str:
    """The email body's plain text from Markdown: no Markdown noise, links as `text (url)`."""
    return plain_text(_MD.parse(source))
