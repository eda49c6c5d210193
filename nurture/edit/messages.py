"""A step's messages as the studio edits them: which files each channel is written in, their
text as the editor shows it (the draft, else the file), and saving a draft of each changed
file once every field parses.

A step's template `T` writes its email as `T.subject.j2` and `T.md.j2` (Markdown, making both
the HTML and the text part) and its SMS as `T.sms.j2`. An older email written as
`T.html.j2` + `T.txt.j2` keeps an editable subject; its body is shown read-only (turning two
hand-written parts into one Markdown file would change what prospects get).

A field whose Jinja does not parse refuses the whole save, naming the field and its line:
nothing is saved, and the page keeps what was typed. Whether a draft renders, and what the
lint says of it, is `message_preview`'s business (after the save).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from nurture.core.states import Channel
from nurture.edit.drafts import Conflict, Drafts, DraftView
from nurture.errors import InvalidValueError
from nurture.schedule.versions import TEMPLATES

#: Parses (and compiles) a draft the way the renderer will, without rendering it.
_SYNTAX = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

#: What each field is called on the page and in a refusal.
FIELD_WORDS = {
    "subject": "the email's subject",
    "body": "the email's message",
    "sms": "the text message",
}


@dataclass(frozen=True)
class MessageFiles:
    """The files (version paths) one channel of a step is written in."""

    channel: Channel
    #: `templates/T.md.j2` for an email, `templates/T.sms.j2` for an SMS; None when the
    #: email is written as HTML and text parts (`parts`) instead.
    body: str | None
    subject: str | None = None
    #: `templates/T.html.j2` and `.txt.j2` of an email written the older way (read-only).
    parts: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        """Every file this channel is written in."""
        own = tuple(p for p in (self.subject, self.body) if p is not None)
        return own + self.parts


def template_path(template: str, part: str) -> str:
    """The version path of one part of a step's template: ('hip-pain/booking', 'sms') ->
    'templates/hip-pain/booking.sms.j2'."""
    return f"{TEMPLATES}/{template}.{part}.j2"


def message_files(
    template: str, channel: Channel, text_of: Callable[[str], str | None]
) -> MessageFiles:
    """Which files `channel` of a step with `template` is edited in. `text_of` reads a file
    as the editor sees it (`Drafts.text`): an email whose `.md.j2` does not exist but whose
    `.html.j2` or `.txt.j2` does is written the older way, its body read-only."""
    if channel is Channel.SMS:
        return MessageFiles(channel, body=template_path(template, "sms"))
    subject = template_path(template, "subject")
    markdown = template_path(template, "md")
    parts = tuple(
        p for p in (template_path(template, "html"), template_path(template, "txt")) if text_of(p)
    )
    if parts and text_of(markdown) is None:
        return MessageFiles(channel, body=None, subject=subject, parts=parts)
    return MessageFiles(channel, body=markdown, subject=subject)


@dataclass(frozen=True)
class MessageText:
    """One channel's text as the editor shows it: each draft, else the file on disk."""

    files: MessageFiles
    subject: str | None
    body: str | None
    #: The older email's parts by path, shown read-only.
    parts: dict[str, str] = field(default_factory=dict)
    #: The drafts of these files, when there are any.
    drafts: tuple[DraftView, ...] = ()


def read_message(drafts: Drafts, template: str, channel: Channel) -> MessageText:
    """What the editor shows for `channel` of a step written in `template`."""
    files = message_files(template, channel, drafts.text)
    held = tuple(d for d in (drafts.get(p) for p in files.paths) if d is not None)
    return MessageText(
        files=files,
        subject=drafts.text(files.subject) if files.subject else None,
        body=drafts.text(files.body) if files.body else None,
        parts={p: drafts.text(p) or "" for p in files.parts},
        drafts=held,
    )


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field: `field` is 'subject', 'body' or 'sms' (or 'channel')."""

    field: str
    message: str
    line: int | None = None

    def to_json(self) -> dict[str, str | int | None]:
        return {"field": self.field, "message": self.message, "line": self.line}


class MessageRefused(InvalidValueError):
    """A save refused before anything was saved: each problem names its field (and line)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


def syntax_problem(name: str, text: str) -> Problem | None:
    """The problem with `text` as a template, if its Jinja does not parse: says where
    (the field `name`'s line) and what is wrong."""
    try:
        _SYNTAX.from_string(text)
    except TemplateSyntaxError as exc:
        words = FIELD_WORDS.get(name, name)
        return Problem(
            name,
            f"{words}, line {exc.lineno}: {exc.message}. Check that every {{{{ has its }}}} "
            "and every {% if %} its {% endif %}.",
            exc.lineno,
        )
    return None


def tidy(text: str, *known: str | None) -> str:
    """What a browser sent, as a file: Unix line ends and one final newline. A text equal to
    one of `known` (the file on disk, the draft) but for its final newlines is that one, so
    saving what was shown changes nothing."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for same in known:
        if same is not None and text.rstrip("\n") == same.rstrip("\n"):
            return same
    return text.rstrip("\n") + "\n"


def check_fields(files: MessageFiles, *, subject: str | None, body: str | None) -> list[Problem]:
    """Every reason the fields cannot be saved as `files` (empty, not parsing, not this
    channel's)."""
    problems: list[Problem] = []
    body_name = "body" if files.channel is Channel.EMAIL else "sms"
    if files.channel is Channel.SMS and subject is not None:
        problems.append(Problem("subject", "a text message has no subject: send only `body`"))
    if body is not None and files.body is None:
        where = " and ".join(files.parts)
        problems.append(
            Problem(
                body_name,
                f"this email's message is written as two files ({where}), not in Markdown: "
                "it is shown here read-only; edit those files on the server",
            )
        )
    for name, text in ((body_name, body), ("subject", subject)):
        if text is None or any(p.field == name for p in problems):
            continue
        if not text.strip():
            problems.append(Problem(name, f"{FIELD_WORDS[name]} is empty: write what it says"))
        elif problem := syntax_problem(name, text):
            problems.append(problem)
    return problems


def save_message(
    drafts: Drafts,
    template: str,
    channel: Channel,
    *,
    subject: str | None,
    body: str | None,
    by: str,
) -> list[str]:
    """Save a draft of each field given (None: leave it as it is) for `channel` of a step
    written in `template`; the files of this channel that hold a draft afterwards (a draft
    equal to the file on disk is dropped). Refused whole, nothing saved: `MessageRefused`
    naming each field that is empty or does not parse; `Conflict` when a file changed on
    disk since its draft began."""
    files = message_files(template, channel, drafts.text)
    problems = check_fields(files, subject=subject, body=body)
    if problems:
        raise MessageRefused(problems)
    pairs = ((files.subject, subject), (files.body, body))
    wanted = [(path, text) for path, text in pairs if path is not None and text is not None]
    begun = [d for d in (drafts.get(p) for p, _ in wanted) if d is not None]
    if stale := drafts.conflicts(begun):
        raise Conflict(stale)
    for path, text in wanted:
        drafts.save(path, tidy(text, drafts.files.read(path), drafts.text(path)), by=by)
    return [p for p in files.paths if drafts.get(p) is not None]
