"""DICOM as a PACS sends it: every common transfer syntax decodes, and broken VOI mappings fall back."""
from __future__ import annotations

import io
from pathlib import Path

import gdcm
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000Lossless, JPEGBaseline8Bit, JPEGLosslessSV1, RLELossless

from model.errors import ImageInputError
from model.imaging.decode import decode_image, read_image
from tests.conftest import encode
from tests.inputs import dicom_bytes, gradient

# Files pydicom ships, written by other toolkits, one per syntax with no pydicom encoder.
BUNDLED = {
    "JPGExtended.dcm": "JPEG Extended (Process 2 and 4)",  # 12-bit lossy
    "MR_small_jpeg_ls_lossless.dcm": "JPEG-LS Lossless Image Compression",
    "MR_small_jp2klossless.dcm": "JPEG 2000 Image Compression (Lossless Only)",  # 16-bit
    "MR_small_RLE.dcm": "RLE Lossless",
    "SC_rgb_jpeg_dcmtk.dcm": "JPEG Baseline (Process 1)",
}


@pytest.fixture(scope="module")
def radiograph(val_images) -> np.ndarray:
    """A real X-ray, shrunk, as the 12-bit values a DX detector stores."""
    pixels = read_image(val_images[9][0]).pixels
    small = np.asarray(Image.fromarray(pixels).resize((320, 256)))
    return small.astype(np.uint16) * 16


def dataset_of(data: bytes) -> Dataset:
    return pydicom.dcmread(io.BytesIO(data))


def saved(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def jpeg_lossless_sv1(data: bytes, scratch: Path) -> bytes:
    """Re-encode an uncompressed DICOM as JPEG Lossless SV1 with GDCM (pydicom has no encoder for it)."""
    source, target = scratch / "source.dcm", scratch / "sv1.dcm"
    source.write_bytes(data)
    reader = gdcm.ImageReader()
    reader.SetFileName(str(source))
    assert reader.Read()
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.JPEGLosslessProcess14_1))
    change.SetInput(reader.GetImage())
    assert change.Change()
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(target))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    assert writer.Write()
    return target.read_bytes()


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless, JPEGLosslessSV1])
def test_lossless_syntaxes_decode_to_the_uncompressed_image(radiograph, syntax, tmp_path):
    plain = dicom_bytes(radiograph)
    if syntax == JPEGLosslessSV1:
        data = jpeg_lossless_sv1(plain, tmp_path)
    else:
        dataset = dataset_of(plain)
        dataset.compress(syntax)
        data = saved(dataset)
    assert dataset_of(data).file_meta.TransferSyntaxUID == syntax
    np.testing.assert_array_equal(decode_image(data, "study.dcm").pixels, decode_image(plain, "plain.dcm").pixels)


def test_jpeg_baseline_decodes_close_to_the_original(radiograph):
    eight_bit = (radiograph // 16).astype(np.uint8)
    dataset = dataset_of(dicom_bytes(radiograph))
    dataset.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8, 8, 7
    dataset.PixelData = encapsulate([encode(Image.fromarray(eight_bit), "JPEG", quality=95)])
    decoded = decode_image(saved(dataset), "baseline.dcm").pixels
    plain = decode_image(dicom_bytes(radiograph), "plain.dcm").pixels
    assert np.abs(decoded.astype(int) - plain.astype(int)).mean() < 2


@pytest.mark.parametrize("name, syntax_name", sorted(BUNDLED.items()))
def test_files_written_by_other_toolkits_decode_with_the_pinned_plugins(name, syntax_name):
    path = Path(get_testdata_file(name))
    dataset = pydicom.dcmread(path)
    assert dataset.file_meta.TransferSyntaxUID.name == syntax_name
    # pylibjpeg's plugins alone decode it (GDCM is only for 12-bit JPEG they refuse).
    assert dataset.pixel_array_options(decoding_plugin="pylibjpeg") is None
    assert dataset.pixel_array.size == dataset.Rows * dataset.Columns * dataset.SamplesPerPixel
    decoded = decode_image(path.read_bytes(), name)
    # Some of these test images have wide uniform bands, cropped like a collimation border.
    cropped = any("uniform border" in note for note in decoded.notes)
    assert decoded.pixels.shape == (dataset.Rows, dataset.Columns) or cropped
    assert decoded.pixels.std() > 0


def test_damaged_compressed_pixel_data_says_so(radiograph):
    data = dicom_bytes(radiograph, transfer_syntax=JPEG2000Lossless)
    with pytest.raises(ImageInputError) as caught:
        decode_image(data, "j2k.dcm")
    assert "j2k.dcm" in str(caught.value) and "damaged" in str(caught.value)


def test_an_empty_voi_lut_sequence_falls_back_to_the_window():
    raw = gradient().astype(np.uint16) * 16
    windowed = decode_image(dicom_bytes(raw, WindowCenter=2048, WindowWidth=1024), "w.dcm")
    empty = dicom_bytes(raw, WindowCenter=2048, WindowWidth=1024, VOILUTSequence=[Dataset()])
    decoded = decode_image(empty, "empty_lut.dcm")
    np.testing.assert_array_equal(decoded.pixels, windowed.pixels)
    assert any("window applied" in note and "empty VOI LUT" in note for note in decoded.notes)


def test_an_empty_modality_lut_falls_back_to_the_rescale():
    """LEADTOOLS writes a Modality LUT Sequence whose item holds no table; pydicom then raised a TypeError."""
    raw = gradient().astype(np.uint16) * 16
    header = {"RescaleSlope": 2, "RescaleIntercept": -100, "WindowCenter": 3000, "WindowWidth": 6000}
    rescaled = decode_image(dicom_bytes(raw, **header), "rescaled.dcm")
    no_table = Dataset()
    no_table.add_new(0x00283002, "US", None)  # LUT Descriptor, empty
    no_table.add_new(0x00283006, "US", None)  # LUT Data, empty
    no_table.ModalityLUTType = ""
    decoded = decode_image(dicom_bytes(raw, ModalityLUTSequence=[no_table], **header), "leadtools.dcm")
    np.testing.assert_array_equal(decoded.pixels, rescaled.pixels)
    np.testing.assert_array_equal(decoded.grey.values, rescaled.grey.values)
    assert any("Modality LUT is empty" in note and "rescale slope" in note for note in decoded.notes)
    stored = decode_image(dicom_bytes(raw, ModalityLUTSequence=[no_table]), "no_rescale.dcm")
    np.testing.assert_array_equal(stored.grey.values, raw)
    assert any("stored values were used" in note for note in stored.notes)


def test_12_bit_jpeg_that_libjpeg_refuses_decodes_with_gdcm():
    """pydicom's JPEG-lossy.dcm: 12-bit JPEG Extended with a scan header libjpeg rejects (error -1038)."""
    refused = Path(get_testdata_file("JPEG-lossy.dcm"))
    with pytest.raises(RuntimeError, match="-1038"):
        pydicom.dcmread(refused).pixel_array  # noqa: B018 - reading it is the failure shown
    decoded = decode_image(refused.read_bytes(), refused.name)
    assert any("decoded with GDCM" in note for note in decoded.notes)
    # The same scan, in a file whose header libjpeg reads: within one 12-bit value (rounding in the inverse DCT).
    same = decode_image(Path(get_testdata_file("JPGExtended.dcm")).read_bytes(), "same.dcm")
    assert decoded.grey.values.shape == same.grey.values.shape
    assert np.abs(decoded.grey.values - same.grey.values).max() <= 1


def test_a_zero_window_width_is_skipped_for_the_next_window():
    raw = gradient().astype(np.uint16) * 16
    second = decode_image(dicom_bytes(raw, WindowCenter=2048, WindowWidth=1024), "w.dcm")
    decoded = decode_image(dicom_bytes(raw, WindowCenter=[100, 2048], WindowWidth=[0, 1024]), "two.dcm")
    np.testing.assert_array_equal(decoded.pixels, second.pixels)
    assert any("width 0" in note for note in decoded.notes)


def test_only_a_zero_window_width_shows_the_full_range():
    raw = gradient().astype(np.uint16) * 16
    plain = decode_image(dicom_bytes(raw), "plain.dcm")
    decoded = decode_image(dicom_bytes(raw, WindowCenter=2048, WindowWidth=0), "zero.dcm")
    np.testing.assert_array_equal(decoded.pixels, plain.pixels)
    assert any("full range" in note and "width 0" in note for note in decoded.notes)
