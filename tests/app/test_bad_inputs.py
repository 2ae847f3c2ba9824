"""Every kind of odd file a clinician might upload, through the real Diagnose page (Streamlit's AppTest).

A refused file gets an error naming it and saying what is wrong; a file the
decoder can still read (16-bit, RGBA, CMYK, MONOCHROME1, exactly 100
megapixels) gets a result and, where decoding changed something, a note.
Never an exception, and the same session then gives a good X-ray its result.
Plain-text and zip files with their own extensions are stopped by the
browser's uploader before the app sees them; tests/e2e/test_browser.py covers
that, so here they come named like images, as a misnamed file would.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from model.dataset import CLASS_NAMES
from model.imaging.decode import read_image
from model.imaging.decoded import MAX_PIXELS
from model.inference import Classifier
from tests.app.conftest import viewers
from tests.browser import shown_percent
from tests.conftest import displayed, encode
from tests.inputs import (
    REFERRAL_NOTE,
    Upload,
    blocky_png,
    cmyk_jpeg,
    dicom_bytes,
    garbled_dicom,
    half_transparent_png,
    huge_png_header,
    make_zip,
    monochrome1_dicom,
    random_bytes,
    rgba_png,
    sixteen_bit_png,
    truncated,
)
from ui import state

pytestmark = pytest.mark.slow  # the real app under AppTest

SIDE_AT_LIMIT = 10_000
# A decoder's own words that must stay out of the message a reader sees.
DECODER_WORDS = ("libjpeg", "error code", "GetJPEGParameters")
VIEW_AND_AGE_CLAIMS = ("lateral", "adult")
# 16-bit, RGBA and MONOCHROME1 are lossless; CMYK is a second JPEG encoding.
PROBABILITY_TOLERANCE = 0.02


@dataclass(frozen=True)
class XRay:
    """The real X-ray the variants are made from."""

    name: str
    data: bytes
    pixels: np.ndarray
    probability: float


@dataclass(frozen=True)
class Refused:
    make: Callable[[XRay], Upload]
    fragment: str
    not_said: tuple[str, ...] = ()  # what would mislead, or is a library's words rather than the reader's


@dataclass(frozen=True)
class Accepted:
    make: Callable[[XRay], Upload]
    note: str | None
    same_image: bool


REFUSED = {
    "zero bytes": Refused(lambda x: Upload("empty.jpg", b""), "empty (0 bytes)"),
    "random bytes .jpg": Refused(lambda x: Upload("noise.jpg", random_bytes(20_000, 1)), "not an image"),
    "random bytes .png": Refused(lambda x: Upload("noise.png", random_bytes(20_000, 2)), "not an image"),
    "random bytes .dcm": Refused(lambda x: Upload("noise.dcm", random_bytes(20_000, 3)), "not a DICOM file"),
    "truncated JPEG": Refused(lambda x: Upload(f"cut_{x.name}", truncated(x.data)), "truncated", DECODER_WORDS),
    "JPEG cut inside its header": Refused(
        lambda x: Upload(f"stub_{x.name}", x.data[:200]), "damaged or truncated", DECODER_WORDS
    ),
    "PNG declaring 50000x50000": Refused(lambda x: Upload("bomb.png", huge_png_header(50_000, 50_000)), "megapixels"),
    "PNG one row over 100 MP": Refused(
        lambda x: Upload("over.png", huge_png_header(SIDE_AT_LIMIT + 1, SIDE_AT_LIMIT)),
        "10001x10000 pixels (100.01 megapixels); images over 100 megapixels are refused",
    ),
    "PNG 20001x5000": Refused(
        lambda x: Upload("wide.png", huge_png_header(20_001, 5_000)), "(100.005 megapixels); images over 100 megapixels"
    ),
    "DICOM header then garbage": Refused(
        lambda x: Upload("garbled.dcm", garbled_dicom(x.pixels)), "is a damaged DICOM file", ("without pixel data",)
    ),
    "1x1 pixel": Refused(lambda x: Upload("dot.png", encode(Image.new("L", (1, 1), 128), "PNG")), "at least 64"),
    "DICOM without pixel data": Refused(lambda x: Upload("report.dcm", dicom_bytes(None)), "without pixel data"),
    "text file named .jpg": Refused(lambda x: Upload("referral.jpg", REFERRAL_NOTE), "not an image"),
    "zip named .dcm": Refused(lambda x: Upload("study.dcm", make_zip({"NORMAL/a.jpeg": x.data})), "not a DICOM file"),
}
ACCEPTED = {
    "16-bit PNG": Accepted(lambda x: Upload("deep.png", sixteen_bit_png(x.pixels)), "bit-depth", True),
    "RGBA PNG": Accepted(lambda x: Upload("alpha.png", rgba_png(x.pixels)), "Transparency", True),
    "CMYK JPEG": Accepted(lambda x: Upload("print.jpg", cmyk_jpeg(x.pixels)), "CMYK", True),
    "DICOM MONOCHROME1": Accepted(lambda x: Upload("inverted.dcm", monochrome1_dicom(x.pixels)), "MONOCHROME1", True),
    # 10000 x 10000 is exactly MAX_PIXELS, and only images over it are refused.
    "10000x10000 PNG": Accepted(lambda x: Upload("huge.png", blocky_png(x.pixels, SIDE_AT_LIMIT)), None, False),
}


# A frontal child X-ray made unlike the training ones: what the page must say, and what it must not claim.
UNLIKE_TRAINING = {
    "inverted": (lambda x: encode(Image.fromarray(255 - x.pixels), "PNG"), "inverted", VIEW_AND_AGE_CLAIMS),
    "turned by 90 degrees": (
        lambda x: encode(Image.fromarray(np.ascontiguousarray(np.rot90(x.pixels))), "PNG"), "on its side",
        VIEW_AND_AGE_CLAIMS,
    ),
    "half-transparent": (lambda x: half_transparent_png(x.pixels), "transparent", VIEW_AND_AGE_CLAIMS),
    "framed by a wide black border": (
        lambda x: encode(Image.fromarray(cv2.copyMakeBorder(x.pixels, *[max(x.pixels.shape)] * 4, cv2.BORDER_CONSTANT,
                                                            value=0)), "PNG"),
        "pure black", VIEW_AND_AGE_CLAIMS + ("inverted",),
    ),
    "all black": (
        lambda x: encode(Image.new("L", (500, 400), 0), "PNG"), "pure black", VIEW_AND_AGE_CLAIMS + ("inverted",)
    ),
}


@pytest.fixture(scope="module")
def xray(val_images, classifier: Classifier) -> XRay:
    path = val_images[3][0]
    pixels = read_image(path).pixels
    return XRay(path.name, path.read_bytes(), pixels, classifier.probability_of(pixels))


def upload(app: AppTest, file: Upload) -> AppTest:
    app.file_uploader(key=state.UPLOADS).set_value(file.for_app_test())
    return app.run()


def shown_label(app: AppTest) -> str:
    """The class named in the Result metric (greyed when the image is unlike the training X-rays)."""
    value = next(metric.value for metric in app.metric if metric.label == "Result")
    return next(name for name in CLASS_NAMES if name in value)


def shown_probability(app: AppTest) -> tuple[float, float]:
    """The probability shown and the rounding its digits carry, both as fractions."""
    percent, rounding = shown_percent(
        next(metric.value for metric in app.metric if metric.label == "Probability of pneumonia")
    )
    return percent / 100, rounding / 100


def decode_errors(app: AppTest, file: Upload) -> list[str]:
    return [displayed(error.value) for error in app.error if file.name in displayed(error.value)]


def still_serves_a_good_xray(app: AppTest, val_images) -> None:
    path = val_images[-1][0]
    good = Upload(path.name, path.read_bytes())
    upload(app, good)
    assert not app.exception
    assert not decode_errors(app, good)
    assert displayed(app.header[0].value) == good.name
    assert shown_label(app) in CLASS_NAMES


def test_the_limit_case_is_exactly_the_decoders_limit():
    assert SIDE_AT_LIMIT * SIDE_AT_LIMIT == MAX_PIXELS


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_file_gets_a_clear_error_and_the_session_goes_on(case, app, xray, val_images):
    file = REFUSED[case].make(xray)
    upload(app, file)
    assert not app.exception
    [error] = decode_errors(app, file)
    assert REFUSED[case].fragment.lower() in error.lower()
    assert not any(words.lower() in error.lower() for words in REFUSED[case].not_said), error
    assert not app.metric, "no result for a refused file"
    still_serves_a_good_xray(app, val_images)


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_readable_variant_gets_a_result_with_a_note_and_the_session_goes_on(case, app, xray, val_images):
    expected = ACCEPTED[case]
    file = expected.make(xray)
    upload(app, file)
    assert not app.exception
    assert not decode_errors(app, file)
    assert displayed(app.header[0].value) == file.name
    assert shown_label(app) in CLASS_NAMES
    if expected.note is not None:
        assert any(expected.note.lower() in displayed(info.value).lower() for info in app.info)
    if expected.same_image:
        probability, rounding = shown_probability(app)
        assert probability == pytest.approx(xray.probability, abs=PROBABILITY_TOLERANCE + rounding)
    assert len(app.image) >= 3 and viewers(app), "the explanations are drawn"
    still_serves_a_good_xray(app, val_images)


@pytest.mark.parametrize("case", list(UNLIKE_TRAINING))
def test_an_image_unlike_the_training_ones_is_told_why_and_nothing_it_is_not(case, app, xray):
    make, said, not_said = UNLIKE_TRAINING[case]
    upload(app, Upload(f"{case}.png", make(xray)))
    assert not app.exception
    reasons = " ".join(displayed(alert.value) for alert in list(app.error) + list(app.warning))
    assert said in reasons, reasons
    assert not any(claim in reasons for claim in not_said), reasons


def test_a_decoders_own_words_are_kept_apart_from_the_message(app, xray):
    file = Upload(f"stub_{xray.name}", xray.data[:200])
    upload(app, file)
    [error] = decode_errors(app, file)
    assert not any(words in error for words in DECODER_WORDS), error
    said = [displayed(caption.value) for caption in app.caption if "What the decoder said:" in displayed(caption.value)]
    assert said and any(words in said[0] for words in DECODER_WORDS), said
