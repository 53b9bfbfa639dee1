"""Colour maths for the accessibility tests: WCAG contrast, CIELAB ΔE, colour-vision simulation.

Simulation uses the Machado, Oliveira & Fernandes (2009) matrices at severity 1.0
(dichromacy), applied in linear RGB.
"""

from __future__ import annotations

import math


def rgb(hex_colour: str) -> tuple[float, float, float]:
    h = hex_colour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def _to_linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _from_linear(c: float) -> float:
    c = min(1.0, max(0.0, c))
    return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


def relative_luminance(hex_colour: str) -> float:
    r, g, b = (_to_linear(c) for c in rgb(hex_colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


MACHADO = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216), (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602), (0.004733, 0.691367, 0.303900)),
}


def simulate(hex_colour: str, deficiency: str) -> str:
    linear = [_to_linear(c) for c in rgb(hex_colour)]
    matrix = MACHADO[deficiency]
    out = [sum(matrix[i][j] * linear[j] for j in range(3)) for i in range(3)]
    return "#" + "".join(f"{round(_from_linear(c) * 255):02X}" for c in out)


def lab(hex_colour: str) -> tuple[float, float, float]:
    r, g, b = (_to_linear(c) for c in rgb(hex_colour))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e(a: str, b: str) -> float:
    """CIE76 ΔE: about 2.3 is just noticeable; above 10 reads as a different colour at a glance."""
    return math.dist(lab(a), lab(b))
