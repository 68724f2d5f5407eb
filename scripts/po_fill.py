"""Fills empty msgstr entries of a .po file from a JSON dictionary {English: French}.

Usage: python scripts/po_fill.py locale/fr/LC_MESSAGES/django.po locale/fr/translations.json
Keeps existing translations; reports msgids still untranslated so none slips through.
"""

from __future__ import annotations

import json
import re
import sys


def _unquote(lines: list[str]) -> str:
    return "".join(json.loads(line) for line in lines)


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def fill(po_path: str, dict_path: str) -> list[str]:
    table = json.load(open(dict_path, encoding="utf-8"))
    lines = open(po_path, encoding="utf-8").read().split("\n")
    out, missing, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("msgid "):
            ids = [line[6:]]
            i += 1
            while i < len(lines) and lines[i].startswith('"'):
                ids.append(lines[i])
                i += 1
            strs = [lines[i][7:]]
            j = i + 1
            while j < len(lines) and lines[j].startswith('"'):
                strs.append(lines[j])
                j += 1
            msgid, msgstr = _unquote(ids), _unquote(strs)
            # A fuzzy entry is gettext's guess from a similar string; it is never used, so an
            # entry in the table replaces it and drops the flag and the "#|" previous-msgid lines.
            comments_start = len(out)
            while comments_start and out[comments_start - 1].startswith("#"):
                comments_start -= 1
            fuzzy = any(line.startswith("#, fuzzy") for line in out[comments_start:])
            if fuzzy and msgid in table:
                kept = [line for line in out[comments_start:] if not line.startswith(("#, fuzzy", "#|"))]
                out[comments_start:] = kept
                msgstr = ""
            out.append("msgid " + ids[0])
            out.extend(ids[1:])
            if msgid and not msgstr:
                if msgid in table:
                    msgstr = table[msgid]
                else:
                    missing.append(msgid)
                out.append("msgstr " + _quote(msgstr))
            else:
                out.append("msgstr " + strs[0])
                out.extend(strs[1:])
            i = j
            continue
        out.append(line)
        i += 1
    text = "\n".join(out)
    text = re.sub(r'"Language: \\n"', r'"Language: fr\\n"', text)
    text = text.replace('"Content-Type: text/plain; charset=CHARSET\\n"',
                        '"Content-Type: text/plain; charset=UTF-8\\n"')
    open(po_path, "w", encoding="utf-8").write(text)
    return missing


if __name__ == "__main__":
    missing = fill(sys.argv[1], sys.argv[2])
    for m in missing:
        print("untranslated:", m)
    sys.exit(1 if missing else 0)
