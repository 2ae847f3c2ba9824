"""Window/level for display: the file's own windows by name, manual ones and invert, never what the network sees."""
from __future__ import annotations

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from model.imaging.decode import decode_image
from model.imaging.window import FULL_RANGE, MANUAL, VoiLut, Window, apply_window, render
from tests.inputs import WINDOW_NAMES, dicom_bytes, gradient, monochrome1_dicom, sixteen_bit_png, windowed_dicom


def differs_at_most(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(int) - b.astype(int)).max())


@pytest.fixture
def xray(val_images) -> np.ndarray:
    return cv2.imread(str(val_images[0][0]), cv2.IMREAD_GRAYSCALE)


def test_a_dicoms_named_windows_are_offered_the_decoded_one_first_and_change_only_the_display(xray):
    decoded = decode_image(windowed_dicom(xray), "windows.dcm")
    grey = decoded.grey_levels
    assert [preset.name for preset in grey.presets] == [*WINDOW_NAMES, FULL_RANGE]
    assert grey.bits == 12 and grey.values.max() > 255
    assert differs_at_most(render(grey, grey.presets[0]), decoded.pixels) <= 1, "the first is what was decoded"
    lung = render(grey, grey.preset("LUNG"))
    assert np.mean(lung != decoded.pixels) > 0.5, "another window shows other grey levels"
    assert (lung == 0).mean() > (decoded.pixels == 0).mean(), "a narrower window clips more to black"
    again = decode_image(windowed_dicom(xray), "windows.dcm")
    np.testing.assert_array_equal(again.pixels, decoded.pixels)


def test_unusable_windows_are_left_out_and_the_one_decoding_used_comes_first(xray):
    data = dicom_bytes(
        xray.astype(np.uint16) * 16, WindowCenter=[2048, 1300, 900], WindowWidth=[0, 1200, -5],
        WindowCenterWidthExplanation=["BROKEN", "LUNG", "NEGATIVE"],
    )
    decoded = decode_image(data, "w.dcm")
    assert [preset.name for preset in decoded.grey_levels.presets] == ["LUNG", FULL_RANGE]
    assert differs_at_most(render(decoded.grey_levels, decoded.grey_levels.presets[0]), decoded.pixels) <= 1


def test_unnamed_and_same_named_windows_get_names_a_reader_can_tell_apart(xray):
    data = dicom_bytes(xray.astype(np.uint16) * 16, WindowCenter=[2048, 1300, 1000], WindowWidth=[4096, 1200, 800],
                       WindowCenterWidthExplanation=["LUNG", "LUNG"])
    names = [preset.name for preset in decode_image(data, "w.dcm").grey_levels.presets]
    assert names == ["LUNG", "LUNG (2)", "Window 3", FULL_RANGE]


@pytest.mark.parametrize("vr", ["US", "OW"])
def test_a_voi_lut_is_offered_by_its_explanation_and_applied_as_a_table(xray, vr):
    """LUT Data as a list of values, or as OW bytes as many modalities write it."""
    lut = Dataset()
    lut.LUTDescriptor = [4096, 0, 12]
    table = [round(4095 * (i / 4095) ** 0.5) for i in range(4096)]
    lut.add_new("LUTData", vr, table if vr == "US" else np.asarray(table, "<u2").tobytes())
    lut.LUTExplanation = "SQUARE ROOT"
    data = dicom_bytes(xray.astype(np.uint16) * 16, VOILUTSequence=pydicom.Sequence([lut]),
                       WindowCenter=1300, WindowWidth=1200)
    decoded = decode_image(data, "lut.dcm")
    grey = decoded.grey_levels
    first = grey.presets[0]
    assert isinstance(first, VoiLut) and first.name == "SQUARE ROOT"
    assert [preset.name for preset in grey.presets[1:]] == ["Window 1", FULL_RANGE]
    assert differs_at_most(render(grey, first), decoded.pixels) <= 1


def test_monochrome1_shows_bone_bright_and_invert_turns_it_round(xray):
    decoded = decode_image(monochrome1_dicom(xray), "m1.dcm")
    grey = decoded.grey_levels
    assert grey.monochrome1
    shown = render(grey, grey.presets[0])
    assert differs_at_most(shown, decoded.pixels) <= 1
    np.testing.assert_array_equal(render(grey, grey.presets[0], invert=True), 255 - shown)


def test_sixteen_bit_pngs_keep_their_values_for_the_window(xray):
    decoded = decode_image(sixteen_bit_png(xray.astype(np.uint16) * 257), "16.png")
    grey = decoded.grey_levels
    assert grey.bits == 16 and grey.values.max() > 255
    assert [preset.name for preset in grey.presets] == [FULL_RANGE]
    assert differs_at_most(render(grey, grey.presets[0]), decoded.pixels) <= 1
    narrow = Window(MANUAL, float(np.median(grey.values)), 8000)
    assert np.mean(render(grey, narrow) != decoded.pixels) > 0.5


def test_eight_bit_files_window_their_own_pixels_and_full_range_is_them_exactly():
    pixels = gradient()
    decoded = decode_image(cv2.imencode(".png", pixels)[1].tobytes(), "8.png")
    assert decoded.grey is None, "nothing kept beyond the pixels"
    grey = decoded.grey_levels
    np.testing.assert_array_equal(render(grey, grey.presets[0]), decoded.pixels)
    np.testing.assert_array_equal(render(grey, grey.presets[0], invert=True), 255 - decoded.pixels)


def test_a_wide_border_is_cropped_from_the_kept_values_as_from_the_pixels(xray):
    framed = cv2.copyMakeBorder(xray, 0, 0, 300, 300, cv2.BORDER_CONSTANT, value=0)
    decoded = decode_image(windowed_dicom(framed), "framed.dcm")
    assert any("uniform border" in note for note in decoded.notes)
    assert decoded.grey_levels.values.shape == decoded.pixels.shape
    assert differs_at_most(render(decoded.grey_levels, decoded.grey_levels.presets[0]), decoded.pixels) <= 1


def test_the_linear_window_follows_dicom_and_a_width_of_one_is_a_threshold():
    values = np.array([0.0, 1023.0, 1024.0, 2047.5, 2048.0, 3071.0, 4095.0], np.float32)
    shown = apply_window(values, Window("W", 2048, 4096))
    assert shown[0] == 0.0 and shown[-1] == pytest.approx(1.0, abs=1e-3)
    assert shown[4] == pytest.approx(0.5, abs=1e-3) and np.all(np.diff(shown) >= 0)
    np.testing.assert_array_equal(apply_window(values, Window("T", 2048, 1)), [0, 0, 0, 1, 1, 1, 1])
