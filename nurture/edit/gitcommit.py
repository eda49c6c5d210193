"""A publish or rollback as a git commit, when the schedules or templates folder is inside a
git work tree: the changed files only, authored by the person who published, the note as
the message; the committer is nurture.

Git is a record beside the files, never a condition of them: a failure (no git, a repository
in a state that refuses commits) is logged and returned as a sentence to show; the files stay
published.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

#: The committer of every commit nurture makes (the author is the person).
COMMITTER = ("nurture", "nurture@localhost")
GIT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Author:
    """Who a commit is by: `Name <email>`."""

    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


def author_for(name: str, email: str | None) -> Author:
    """An author git accepts: no angle brackets or newlines in the name; an address always
    (a CLI user 'cli:ann' becomes 'cli-ann@nurture.invalid')."""
    clean = re.sub(r"[<>\n\r]+", " ", name).strip() or "nurture"
    if email and "@" in email and not re.search(r"[<>\s]", email):
        return Author(clean, email)
    local = re.sub(r"[^A-Za-z0-9._-]+", "-", clean).strip("-") or "nurture"
    return Author(clean, f"{local}@nurture.invalid")


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GIT_COMMITTER_NAME": COMMITTER[0],
        "GIT_COMMITTER_EMAIL": COMMITTER[1],
        "GIT_TERMINAL_PROMPT": "0",
    }
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
    )


def work_tree(folder: Path) -> Path | None:
    """The top of the git work tree `folder` is in, or None (not in one, or no git)."""
    if not folder.is_dir():
        return None
    try:
        found = _git(folder, "rev-parse", "--show-toplevel")
    except (OSError, subprocess.SubprocessError):
        return None
    top = found.stdout.strip()
    return Path(top) if found.returncode == 0 and top else None


def commit_files(paths: list[Path], *, author: Author, message: str) -> list[str]:
    """Commit `paths` (files written or removed) in the git work trees they are in; what
    went wrong, as sentences (empty when every commit was made or none was needed)."""
    by_tree: dict[Path, list[str]] = defaultdict(list)
    for path in paths:
        top = work_tree(path.parent if path.parent.is_dir() else path.parent.parent)
        if top is not None:
            by_tree[top].append(os.path.relpath(path.resolve(), top.resolve()))
    problems = []
    for top, names in by_tree.items():
        try:
            problem = _commit_in(top, names, author=author, message=message)
        except (OSError, subprocess.SubprocessError) as exc:
            problem = f"git could not run: {type(exc).__name__}"
        if problem:
            log.warning("studio.git_commit_failed", repository=str(top), reason=problem)
            problems.append(
                f"The files are published, but the git commit in {top} failed: {problem}"
            )
    return problems


def _commit_in(top: Path, names: list[str], *, author: Author, message: str) -> str | None:
    for name in names:
        added = _git(top, "add", "-A", "--", name)
        # A removed file that git never tracked matches nothing: nothing to record for it.
        if added.returncode != 0 and (top / name).exists():
            return _reason(added)
    staged = _git(top, "diff", "--cached", "--name-only", "--", *names)
    if staged.returncode != 0:
        return _reason(staged)
    chosen = [line for line in staged.stdout.splitlines() if line]
    if not chosen:
        return None
    done = _git(top, "commit", "--quiet", f"--author={author}", "-m", message, "--", *chosen)
    return None if done.returncode == 0 else _reason(done)


def _reason(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stderr or result.stdout or "").strip().splitlines()
    return lines[-1][:300] if lines else f"git exited {result.returncode}"
