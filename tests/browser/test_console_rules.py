"""The console states TikTok's composer rules with the backend's own words and numbers (no browser needed).

The declaration a creator accepts in the console is sent with the post and compared with the one the API
expects, so any drift between web/js/rules.js and the domain would refuse every post: caught here instead.
"""

import re

from flowctory.domain import compose
from flowctory.models.tiktok import TITLE_MAX_UTF16
from sandbox.template import ROOT

RULES_JS = ROOT / "web" / "js" / "rules.js"


def _constants() -> dict[str, str]:
    text = RULES_JS.read_text(encoding="utf-8")
    found = dict(re.findall(r'^export const ([A-Z_0-9]+) = "((?:[^"\\]|\\.)*)";$', text, flags=re.MULTILINE))
    found.update(re.findall(r"^export const ([A-Z_0-9]+) = (\d+);$", text, flags=re.MULTILINE))
    return found


def test_declarations_and_labels_are_the_backends_word_for_word() -> None:
    constants = _constants()
    assert constants["MUSIC_DECLARATION"] == compose.MUSIC_DECLARATION
    assert constants["BRANDED_DECLARATION"] == compose.BRANDED_DECLARATION
    assert constants["LABEL_YOUR_BRAND"] == compose.LABEL_YOUR_BRAND
    assert constants["LABEL_BRANDED"] == compose.LABEL_BRANDED


def test_limits_are_the_backends() -> None:
    constants = _constants()
    assert int(constants["CAPTION_MAX_UTF16"]) == TITLE_MAX_UTF16
    assert int(constants["PUBLISH_MARGIN_MINUTES"]) * 60 == compose.PUBLISH_MARGIN.total_seconds()
