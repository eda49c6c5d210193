"""Rendering messages from `templates/` with a sandboxed, strict Jinja environment.

Rendering is pure: it takes the context and returns text. Templates are read at send time
(and re-read when they change), so a fixed typo reaches every prospect still waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import (
    BaseLoader,
    DictLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
    select_autoescape,
)
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment
from markupsafe import Markup

from nurture.content import md
from nurture.content.layout import Frame, frame_context, frameable
from nurture.content.md_once import renders_once
from nurture.content.sms import sms_segments
from nurture.core.states import Channel
from nurture.errors import TemplateError

EMAIL_PARTS = ("subject", "html", "txt")
#: The one-file form of an email body: Markdown with Jinja, making both HTML and text.
MARKDOWN_PART = "md"
SMS_PARTS = ("sms",)
LAYOUT_HTML = "_layout/email.html.j2"
LAYOUT_TEXT = "_layout/email.txt.j2"
STOP_FOOTER = "Reply STOP to opt out"


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready for a channel: email parts, or an SMS body."""

    channel: Channel
    text: str
    subject: str | None = None
    html: str | None = None

    @property
    def segments(self) -> int:
        return sms_segments(self.text) if self.channel is Channel.SMS else 0


class Renderer:
    """Renders a step's template for one channel; one per process, templates cached."""

    def __init__(self, templates_dir: Path, loader: BaseLoader | None = None) -> None:
        """`loader` replaces reading `templates_dir` (the last good sources, for sending)."""
        self.templates_dir = templates_dir
        self.loader = loader or FileSystemLoader(str(templates_dir))
        options: dict[str, Any] = {
            "loader": self.loader,
            "undefined": StrictUndefined,
            "trim_blocks": True,
            "lstrip_blocks": True,
            "keep_trailing_newline": False,
            "auto_reload": True,
        }
        # Immutable: a template cannot change what it is given (the clinic's part of the
        # context is shared by every message, `context.py`).
        self.env = ImmutableSandboxedEnvironment(
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            **options,
        )
        # md.j2: every interpolated value is Markdown-escaped before Markdown runs.
        self.md_env = ImmutableSandboxedEnvironment(
            autoescape=False, finalize=md.finalize, **options
        )
        # Sources given once (the last good set, `live.py`) keep each step's form.
        self._forms: dict[str, str] | None = {} if isinstance(self.loader, DictLoader) else None
        # ... what their parse shows (`_holds`), and each layout's frame (`layout.py`).
        given_once = isinstance(self.loader, DictLoader)
        self._checked: dict[tuple[str, str], bool] | None = {} if given_once else None
        self._frames: dict[str, tuple[Any, Frame | None]] | None = {} if given_once else None
        self._inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)

    def render(
        self, template: str, channel: Channel, context: dict[str, Any], *, first_sms: bool = False
    ) -> RenderedMessage:
        """Render `template` (e.g. 'hip-pain/booking') for `channel`; TemplateError names it."""
        if channel is Channel.SMS:
            body = self._render(f"{template}.sms.j2", context).strip()
            if first_sms and "STOP" not in body:
                body = f"{body}\n{STOP_FOOTER}"
            return RenderedMessage(channel=channel, text=body)
        subject = " ".join(self._render(f"{template}.subject.j2", context).split())
        if not subject:
            raise TemplateError("renders an empty subject", template=f"{template}.subject.j2")
        html_body, text_body = self._body(template, context)
        html = self._layout(LAYOUT_HTML, context, html_body)
        text = self._layout(LAYOUT_TEXT, context, text_body).strip() + "\n"
        try:
            html = self._inliner.inline(html)
        except ValueError as exc:
            raise TemplateError(f"CSS could not be inlined: {exc}", template=LAYOUT_HTML) from None
        return RenderedMessage(channel=channel, subject=subject, html=html, text=text)

    def form(self, template: str) -> str:
        """How a step's email body is written: "md" (`NAME.md.j2`) or "html+txt" (two files).

        A folder holding both forms for one step is an error: which one would go out is unclear.
        """
        if self._forms is None:
            return self._form(template)
        if template not in self._forms:
            self._forms[template] = self._form(template)
        return self._forms[template]

    def _form(self, template: str) -> str:
        has_md = self.exists(f"{template}.{MARKDOWN_PART}.j2")
        if has_md and (self.exists(f"{template}.html.j2") or self.exists(f"{template}.txt.j2")):
            raise TemplateError(
                f"both {template}.md.j2 and {template}.html.j2/.txt.j2 exist: keep one form "
                "(delete the .html.j2 and .txt.j2 files, or the .md.j2)",
                template=f"{template}.md.j2",
            )
        return MARKDOWN_PART if has_md else "html+txt"

    def check(self, template: str, channel: Channel) -> list[str]:
        """The files a channel needs for `template` that do not exist."""
        if channel is Channel.SMS:
            parts: tuple[str, ...] = SMS_PARTS
        elif self.form(template) == MARKDOWN_PART:
            parts = ("subject", MARKDOWN_PART)
        else:
            parts = EMAIL_PARTS
        return [f"{template}.{p}.j2" for p in parts if not self.exists(f"{template}.{p}.j2")]

    def exists(self, name: str) -> bool:
        """Whether template file `name` (relative to the templates folder) exists."""
        if isinstance(self.loader, FileSystemLoader):
            return (self.templates_dir / name).is_file()
        try:
            self.loader.get_source(self.env, name)
        except TemplateNotFound:
            return False
        return True

    def _body(self, template: str, context: dict[str, Any]) -> tuple[str, str]:
        """The email body as (HTML, plain text), from `NAME.md.j2` or `NAME.html.j2`+`.txt.j2`."""
        if self.form(template) == MARKDOWN_PART:
            name = f"{template}.md.j2"
            source, skeleton = md.render_both(
                lambda: self._render(name, context, env=self.md_env),
                once=self._holds(name, renders_once),
            )
            return md.to_parts_of(source, skeleton)
        html_body = self._render(f"{template}.html.j2", context)
        return html_body, self._render(f"{template}.txt.j2", context).strip()

    def _holds(self, name: str, check: Callable[[nodes.Template], bool]) -> bool:
        """Whether `check` (`md_once.renders_once`, `layout.frameable`) holds for template
        `name`'s parse; only for sources given once, whose parse cannot change under the
        compiled template, and kept for them."""
        if self._checked is None:
            return False
        key = (name, check.__name__)
        holds = self._checked.get(key)
        if holds is None:
            try:
                holds = check(self.env.parse(self.loader.get_source(self.env, name)[0], name))
            except (TemplateNotFound, TemplateSyntaxError):
                holds = False  # the render reports it
            self._checked[key] = holds
        return holds

    def _layout(self, name: str, context: dict[str, Any], body: str) -> str:
        """Layout `name` around `body`: its frame filled when it has one (`layout.py`)."""
        given = {**context, "body": Markup(body) if name == LAYOUT_HTML else body}
        framed = self._frames is not None and "clinic" in context and "links" in context
        if self._frames is None or not framed or not self._holds(name, frameable):
            return self._render(name, given)
        kept = self._frames.get(name)
        if kept is None or kept[0] is not context["clinic"]:
            holes: list[str] = []
            text = self._render(name, frame_context(context, holes))
            autoescape = self.env.autoescape
            escaped = autoescape(name) if callable(autoescape) else autoescape
            made = Frame(text, tuple(holes), escaped=escaped)
            rendered = self._render(name, given)
            # Kept only if this message's layout, rendered in full, is what it fills to.
            made_ok = _filled(made, body, context) == rendered
            self._frames[name] = (context["clinic"], made if made_ok else None)
            return rendered
        filled = None if kept[1] is None else _filled(kept[1], body, context)
        return self._render(name, given) if filled is None else filled

    def _render(
        self, name: str, context: dict[str, Any], env: SandboxedEnvironment | None = None
    ) -> str:
        try:
            return (env or self.env).get_template(name).render(context)
        except TemplateNotFound:
            raise TemplateError("template file not found", template=name) from None
        except TemplateSyntaxError as exc:
            raise TemplateError(
                f"line {exc.lineno}: {exc.message}", template=exc.name or name, line=exc.lineno
            ) from None
        except UndefinedError as exc:
            raise TemplateError(f"unknown variable: {exc.message}", template=name) from None
        except SecurityError as exc:
            raise TemplateError(f"refused by the sandbox: {exc}", template=name) from None
        except (TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise TemplateError(f"{type(exc).__name__}: {exc}", template=name) from None


def _filled(frame: Frame, body: str, context: dict[str, Any]) -> str | None:
    """`frame` filled for one message; None when a link it writes is missing (the layout
    rendered in full then says which)."""
    try:
        return frame.fill(body, context["links"])
    except LookupError:
        return None
