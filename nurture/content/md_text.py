"""The plain-text part of a Markdown email, from its tokens: no Markdown noise, one block
per paragraph, list item or heading, lists as `- item` / `1. item`, quotes as `> `, links as
`text (url)`."""

from __future__ import annotations

import re

from markdown_it.token import Token


def plain_text(tokens: list[Token], texts: tuple[str | None, ...] = ()) -> str:
    """The plain text of `tokens`; `texts`: inline tokens' text where known already."""
    blocks = _Text().blocks(tokens, texts)
    return "\n\n".join(b for b in blocks if b.strip()).strip()


class _Text:
    """Turns block tokens into plain-text blocks (one per paragraph, list item, heading...)."""

    def blocks(self, tokens: list[Token], texts: tuple[str | None, ...] = ()) -> list[str]:
        out: list[str] = []
        lists: list[list[int]] = []  # per open list: [next number] or [-1] for bullets
        quote = 0
        item_prefix: str | None = None
        first_item = False
        for i, token in enumerate(tokens):
            kind = token.type
            if kind == "bullet_list_open":
                lists.append([-1])
                first_item = len(lists) == 1
            elif kind == "ordered_list_open":
                lists.append([int(token.attrs.get("start", 1) or 1)])
                first_item = len(lists) == 1
            elif kind in ("bullet_list_close", "ordered_list_close"):
                lists.pop()
            elif kind == "list_item_open":
                counter = lists[-1]
                indent = "   " * (len(lists) - 1)
                if counter[0] < 0:
                    item_prefix = f"{indent}- "
                else:
                    item_prefix = f"{indent}{counter[0]}. "
                    counter[0] += 1
            elif kind == "blockquote_open":
                quote += 1
            elif kind == "blockquote_close":
                quote -= 1
            elif kind == "hr":
                out.append("----")
            elif kind in ("fence", "code_block"):
                out.append(_indent(token.content.rstrip("\n"), "    "))
            elif kind == "inline":
                known = texts[i] if i < len(texts) else None
                text = inline_text(token.children or []) if known is None else known
                if item_prefix is not None:
                    pad = " " * len(item_prefix)
                    text = item_prefix + text.replace("\n", "\n" + pad)
                    item_prefix = None
                    join = out and not first_item and _is_item(out[-1])
                    first_item = False
                    if join:
                        out[-1] += "\n" + text  # list items stay together, one per line
                        continue
                if quote:
                    text = _indent(text, "> " * quote)
                out.append(text)
        return out


def _is_item(block: str) -> bool:
    return bool(re.match(r"^\s*(- |\d+\. )", block))


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.split("\n"))


def inline_text(children: list[Token]) -> str:
    parts: list[str] = []
    links: list[tuple[str, int]] = []  # (href, where its text starts in parts)
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
        elif kind == "softbreak" or kind == "hardbreak":
            parts.append("\n")
        elif kind == "link_open":
            links.append((str(child.attrs.get("href", "")), len(parts)))
        elif kind == "link_close" and links:
            href, begin = links.pop()
            label = "".join(parts[begin:]).strip()
            if href and href not in (label, f"mailto:{label}"):
                parts.append(f" ({href})")
        elif kind == "image":
            alt = "".join(c.content for c in child.children or [])
            parts.append(f"{alt} ({child.attrs.get('src', '')})" if alt else "")
    return "".join(parts)
