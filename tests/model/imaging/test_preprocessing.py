"""Decoding every input variant a clinician may upload, and refusing the rest clearly."""
from __future__ import annotations

import io
import time
import warnings

import cv2
import numpy as np
import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.encaps import generate_frames

from model.errors import ImageInputError
from model.imaging.border import MIN_CROPPED_BORDER, wide_border
from model.imaging.decode import decode_image, read_image
from model.imaging.preprocess import to_model_input
from model.paths import PROJECT_ROOT
from model.trust.uncertainty import uncertainty
from tests.conftest import encode
from tests.inputs import REFERRAL_NOTE, dicom_bytes, gradient, huge_png_header, random_bytes

TEST_DATA = PROJECT_ROOT / "tests" / "data"  # arithmetic_coded.jpg: gradient() through libjpeg-turbo's cjpeg -arithmetic


@pytest.mark.parametrize("level", [0, 235])
def test_a_wide_uniform_border_is_cropped_before_the_model_sees_the_image(classifier, xray_pixels, level):
    """A film framed by collimation (black) or scanned on a light box (near white) reaches the model as the X-ray."""
    height, width = xray_pixels.shape
    framed = cv2.copyMakeBorder(xray_pixels, height // 8, height // 8, width // 6, width // 10,
                                cv2.BORDER_CONSTANT, value=level)
    decoded = decode_image(encode(Image.fromarray(framed), "JPEG", quality=90), "framed.jpg")
    assert abs(decoded.shape[0] - height) <= 0.01 * height and abs(decoded.shape[1] - width) <= 0.01 * width
    [note] = [note for note in decoded.notes if "border" in note]
    assert "top 10%" in note and "left 13%" in note and "right 8%" in note
    cropped, framed_as_is = (classifier.probabilities(classifier.model_input(p)[np.newaxis])[0]
                             for p in (decoded.pixels, framed))
    plain = classifier.probabilities(classifier.model_input(xray_pixels)[np.newaxis])[0]
    assert abs(cropped - plain) < 0.02 and abs(cropped - plain) <= abs(framed_as_is - plain)


def test_narrow_borders_and_blank_images_are_left_as_they_are(xray_pixels):
    """Training X-rays have thin borders too; a blank image has no border to cut, and the OOD check names it."""
    height, width = xray_pixels.shape
    thin = round(height * MIN_CROPPED_BORDER * 0.6)
    framed = cv2.copyMakeBorder(xray_pixels, thin, thin, thin, thin, cv2.BORDER_CONSTANT, value=0)
    assert wide_border(framed) is None
    blank = np.full((400, 500), 17, np.uint8)
    assert wide_border(blank) is None
    half_black = xray_pixels.copy()
    half_black[:, : width // 2] = 0
    assert wide_border(half_black) is None


def test_grayscale_jpeg_decodes_at_source_resolution():
    decoded = decode_image(encode(Image.fromarray(gradient()), "JPEG"), "a.jpg")
    assert decoded.pixels.shape == (300, 400) and decoded.pixels.dtype == np.uint8
    assert decoded.source_format == "JPEG" and decoded.notes == []


def test_rgb_jpeg_becomes_grayscale():
    rgb = np.repeat(gradient()[..., None], 3, axis=2)
    decoded = decode_image(encode(Image.fromarray(rgb), "JPEG", quality=95), "rgb.jpg")
    assert decoded.pixels.ndim == 2
    assert np.abs(decoded.pixels.astype(int) - gradient()).mean() < 3


def test_sixteen_bit_png_is_stretched_to_eight_bits():
    wide = gradient().astype(np.uint16) * 16 + 100
    decoded = decode_image(encode(Image.fromarray(wide), "PNG"), "deep.png")
    assert decoded.pixels.min() == 0 and decoded.pixels.max() == 255
    assert any("bit" in note for note in decoded.notes)
    correlation = np.corrcoef(decoded.pixels.ravel(), gradient().ravel())[0, 1]
    assert correlation > 0.99


def test_rgba_png_alpha_is_composited_on_black():
    rgba = np.zeros((300, 400, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[:, :200, 3] = 255
    decoded = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"), "alpha.png")
    assert decoded.pixels[:, :200].mean() == pytest.approx(200, abs=1)
    assert decoded.pixels[:, 200:].max() == 0
    assert any("Transparency" in note for note in decoded.notes)


def test_cmyk_jpeg_is_converted():
    cmyk = Image.fromarray(np.repeat(gradient()[..., None], 3, axis=2)).convert("CMYK")
    decoded = decode_image(encode(cmyk, "JPEG"), "print.jpg")
    assert decoded.pixels.shape == (300, 400)
    assert any("CMYK" in note for note in decoded.notes)


def test_palette_and_gray_alpha_pngs_decode():
    gray = Image.fromarray(gradient())
    assert decode_image(encode(gray.convert("P"), "PNG"), "p.png").pixels.shape == (300, 400)
    assert decode_image(encode(gray.convert("LA"), "PNG"), "la.png").pixels.shape == (300, 400)


def test_dicom_monochrome2_applies_window():
    raw = (gradient().astype(np.uint16) * 16)
    decoded = decode_image(dicom_bytes(raw, WindowCenter=2048, WindowWidth=1024), "x.dcm")
    assert decoded.source_format == "DICOM"
    assert decoded.pixels.shape == raw.shape
    assert any("window" in note.lower() for note in decoded.notes)
    assert (decoded.pixels == 0).mean() > 0.2 and (decoded.pixels == 255).mean() > 0.1


def test_dicom_monochrome1_is_inverted():
    raw = gradient().astype(np.uint16) * 16
    normal = decode_image(dicom_bytes(raw), "m2.dcm").pixels.astype(int)
    inverted = decode_image(dicom_bytes(raw, "MONOCHROME1"), "m1.dcm").pixels.astype(int)
    assert np.abs((255 - inverted) - normal).max() <= 1


def test_dicom_without_preamble_extension_only():
    data = dicom_bytes(gradient().astype(np.uint16))
    assert decode_image(data[132:], "no_preamble.dcm").pixels.shape == (300, 400)


@pytest.mark.parametrize("implicit", [True, False])
def test_a_bare_dicom_data_set_is_read_whatever_its_name(implicit):
    """No preamble, no file meta, no .dcm: as older systems write them; pydicom reads them, so do we."""
    dataset = pydicom.dcmread(io.BytesIO(dicom_bytes(gradient().astype(np.uint16))))
    del dataset.file_meta
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, dataset, implicit_vr=implicit, little_endian=True)
    decoded = decode_image(buffer.getvalue(), "IM00001")
    assert decoded.pixels.shape == (300, 400) and decoded.source_format == "DICOM"
    assert any("without a file header" in note for note in decoded.notes)


def test_zeros_named_dcm_are_refused_at_once_as_no_dicom():
    """pydicom parses any bytes with force=True: 49 MB of zeros took 12 s and were called a DICOM without pixels."""
    started = time.perf_counter()
    with pytest.raises(ImageInputError, match="'zeros.dcm' is not a DICOM file"):
        decode_image(bytes(49_000_000), "zeros.dcm")
    assert time.perf_counter() - started < 2.0


def test_jpegs_pillow_cannot_read_are_decoded_by_the_reference_libjpeg():
    """A 12-bit JPEG (DICOM's JPEG Extended, saved as a .jpg) and an arithmetic-coded one are X-rays, not damage."""
    twelve_bit = next(generate_frames(pydicom.dcmread(get_testdata_file("JPGExtended.dcm")).PixelData))
    decoded = decode_image(twelve_bit, "twelve.jpg")
    assert decoded.source_format == "JPEG" and decoded.pixels.dtype == np.uint8 and decoded.pixels.std() > 0
    assert "12-bit JPEG rescaled to 8 bits." in decoded.notes
    arithmetic = decode_image((TEST_DATA / "arithmetic_coded.jpg").read_bytes(), "arithmetic.jpg")
    assert np.abs(arithmetic.pixels.astype(int) - gradient()).mean() < 3
    with pytest.raises(ImageInputError, match="'cut.jpg' is a JPEG file that is truncated"):
        decode_image(twelve_bit[: len(twelve_bit) // 3], "cut.jpg")


def test_the_size_refusal_does_not_depend_on_the_process_warning_filters():
    """Streamlit runs sessions in threads that share warnings' filters; another thread's filter must not change it."""
    between_limits = huge_png_header(12_000, 12_000)  # 144 MP: Pillow warns, our header check refuses
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageInputError, match=r"\(144 megapixels\); images over 100 megapixels are refused"):
            decode_image(between_limits, "big.png")
    with pytest.raises(ImageInputError, match=r"\(144 megapixels\); images over 100 megapixels are refused"):
        decode_image(between_limits, "big.png")


@pytest.mark.parametrize(
    "data, name, fragment",
    [
        (b"", "empty.png", "empty"),
        (b"hello, this is a clinical note\n" * 10, "note.txt", "not an image"),
        (bytes(range(256)) * 40, "noise.jpg", "not an image"),
        (encode(Image.fromarray(gradient(40, 40)), "PNG"), "tiny.png", "at least 64"),
        (encode(Image.fromarray(gradient()), "GIF"), "anim.gif", "GIF"),
        (encode(Image.fromarray(gradient()), "JPEG")[:600], "cut.jpg", "truncated"),
    ],
)
def test_bad_raster_input_is_refused_with_a_readable_message(data, name, fragment):
    with pytest.raises(ImageInputError) as caught:
        decode_image(data, name)
    assert fragment.lower() in str(caught.value).lower()
    assert name in str(caught.value) or name == ""


def test_declared_huge_png_is_refused_before_decoding():
    with pytest.raises(ImageInputError, match="megapixels"):
        decode_image(huge_png_header(50_000, 50_000), "bomb.png")


def test_dicom_without_pixel_data_is_refused():
    with pytest.raises(ImageInputError, match="without pixel data"):
        decode_image(dicom_bytes(None), "report.dcm")


@pytest.mark.parametrize("data", [random_bytes(4096, seed=0), REFERRAL_NOTE], ids=["noise", "text"])
def test_other_bytes_named_dcm_are_not_called_dicom(data):
    with pytest.raises(ImageInputError, match="not a DICOM file"):
        decode_image(data, "scan.dcm")


def test_read_image_reports_missing_file(tmp_path):
    with pytest.raises(ImageInputError, match="cannot be read"):
        read_image(tmp_path / "gone.png")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=4096), st.sampled_from(["x.jpg", "x.png", "x.dcm", ""]))
def test_arbitrary_bytes_only_raise_the_project_error(data, name):
    try:
        decoded = decode_image(data, name)
    except ImageInputError:
        return
    assert decoded.pixels.dtype == np.uint8 and decoded.pixels.ndim == 2


def test_model_input_shape_range_and_resolution_independence(xray_pixels):
    full = to_model_input(xray_pixels, 160)
    small = np.asarray(Image.fromarray(xray_pixels).resize((224, 224), Image.BILINEAR))
    reduced = to_model_input(small, 160)
    assert full.shape == (160, 160, 1) and full.dtype == np.float32
    assert full.min() >= 0 and full.max() <= 255
    assert np.abs(full - reduced).mean() < 8


def small_copies(pixels: np.ndarray) -> list[np.ndarray]:
    """224x224 copies as another program might make them: area-averaged PNG, bilinear JPEG."""
    area = cv2.resize(pixels, (224, 224), interpolation=cv2.INTER_AREA)
    bilinear = Image.fromarray(pixels).resize((224, 224), Image.BILINEAR)
    return [
        decode_image(encode(Image.fromarray(area), "PNG"), "copy.png").pixels,
        decode_image(encode(bilinear, "JPEG", quality=95), "copy.jpg").pixels,
    ]


def test_full_resolution_and_224_copy_give_nearly_the_same_probability(classifier, val_images):
    differences = []
    for path, _ in val_images:
        pixels = read_image(path).pixels
        full = classifier.probability_of(pixels)
        copies = [classifier.probability_of(copy) for copy in small_copies(pixels)]
        differences += [abs(full - p) for p in copies]
        flips = any((p >= classifier.threshold) != (full >= classifier.threshold) for p in copies)
        if flips:
            assert uncertainty(classifier, pixels).straddles_threshold, f"{path.name} flips without a review flag"
    assert differences[0::2] == pytest.approx([0.0] * len(val_images), abs=1e-3)
    assert np.median(differences) < 0.02
    assert np.mean(np.asarray(differences) < 0.05) >= 0.9
