"""Status colours: WCAG contrast, colour-vision deficiency, distinct icon shapes."""

from __future__ import annotations

import itertools

import pytest
from PySide6.QtGui import QImage

from codatdesk.states import ExpenseStatus
from codatdesk.ui.status_style import STYLES, status_pixmap, style_for
from tests.ui.colour_science import contrast_ratio, delta_e, simulate

SCHEMES = (False, True)


def test_every_status_has_a_style_with_its_own_shape():
    assert set(STYLES) == set(ExpenseStatus)
    shapes = [style.shape for style in STYLES.values()]
    assert len(set(shapes)) == len(shapes)


@pytest.mark.parametrize("dark", SCHEMES, ids=["light", "dark"])
@pytest.mark.parametrize("status", list(ExpenseStatus), ids=lambda s: s.name)
def test_status_text_on_its_tint_meets_wcag_aa(status, dark):
    tones = style_for(status).tones(dark)
    assert contrast_ratio(tones.background, tones.text) >= 4.5
    # The icon is a graphic: WCAG 1.4.11 asks 3:1 against what is next to it.
    assert contrast_ratio(tones.background, tones.icon) >= 3.0


@pytest.mark.parametrize("dark", SCHEMES, ids=["light", "dark"])
def test_tints_are_distinct_for_everyone(dark):
    """Every pair of status tints stays apart in normal vision and in all three dichromacies."""
    tints = {s: style_for(s).tones(dark).background for s in ExpenseStatus}
    for a, b in itertools.combinations(ExpenseStatus, 2):
        assert delta_e(tints[a], tints[b]) >= 5, (a, b)
        for deficiency in ("protanopia", "deuteranopia", "tritanopia"):
            assert delta_e(simulate(tints[a], deficiency), simulate(tints[b], deficiency)) >= 5, (a, b, deficiency)


@pytest.mark.parametrize("deficiency", ["deuteranopia", "protanopia"])
@pytest.mark.parametrize("dark", SCHEMES, ids=["light", "dark"])
def test_complete_and_failed_stay_apart_for_red_green_colour_blindness(deficiency, dark):
    complete, failed = style_for(ExpenseStatus.COMPLETE), style_for(ExpenseStatus.FAILED)
    # Accents and icons: clearly different colours (ΔE > 20), not just noticeable.
    assert delta_e(simulate(complete.accent, deficiency), simulate(failed.accent, deficiency)) > 20
    assert delta_e(simulate(complete.tones(dark).icon, deficiency), simulate(failed.tones(dark).icon, deficiency)) > 15
    # The tints behind the text.
    assert delta_e(simulate(complete.tones(dark).background, deficiency),
                   simulate(failed.tones(dark).background, deficiency)) > 10


def test_a_red_green_pair_would_fail_the_same_check():
    """The check can fail: pure green and red collapse under deuteranopia."""
    assert delta_e(simulate("#00A000", "deuteranopia"), simulate("#D00000", "deuteranopia")) < 20


def test_accents_are_okabe_ito_anchored():
    assert style_for(ExpenseStatus.COMPLETE).accent == "#009E73"
    assert style_for(ExpenseStatus.FAILED).accent == "#D55E00"
    assert style_for(ExpenseStatus.IN_PROGRESS).accent == "#E69F00"


def _alpha_mask(image: QImage) -> list[bool]:
    return [image.pixelColor(x, y).alpha() > 96 for y in range(image.height()) for x in range(image.width())]


def test_icons_differ_in_shape_not_only_colour(qapp):
    """Compare the icons' alpha masks (shape only): every pair differs in a good share of pixels."""
    masks = {s: _alpha_mask(status_pixmap(s, False, 32).toImage()) for s in ExpenseStatus}
    for a, b in itertools.combinations(ExpenseStatus, 2):
        differing = sum(x != y for x, y in zip(masks[a], masks[b], strict=True))
        assert differing / len(masks[a]) > 0.08, (a, b, differing)
    for status in ExpenseStatus:
        assert sum(masks[status]) > 40, f"{status} icon is nearly empty"
