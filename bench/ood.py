"""How often the trust checks flag real chest X-rays, and how often they catch other images.

    python -m bench.ood [--model model/artifacts] [--data ../shared/data/chest_xray] [--other DIR]

An image counts as flagged when the page would grey it or warn about it: any
trust signal but "uncertain" (unlike the training X-rays, not a radiograph,
not the chest, lateral, age outside training), from the same
review.triage.assess_files the page calls, with the out-of-distribution
check and the image-only lateral and adult probes. Real pediatric X-rays
(the validation split, the later calibration sample, the val/ originals)
should stay at or under 3 %; DICOMs shipped with pydicom (CT, MR) are
flagged by their header. --other (default: ../shared/data/other_xrays) adds
its lateral and adult frontal X-rays; the probes were fitted on them, so
those rows are in-sample (model/artifacts/view_checks.json holds the
leave-one-out figures).

Other images, all made here or shipped with scikit-image, never downloaded
(target: at least 90% flagged): photos, scientific and graphic images,
textures, a CT phantom, documents, noise, blank and saturated images, and
X-rays that are inverted, turned, cut to a quarter or squeezed to one side.
Every image goes through the upload path (bytes, assess_files). Mild
acquisition shifts of real X-rays are reported too, as information. Figures
go to bench/results/ood.txt.
"""
from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom.data import get_testdata_file
from skimage import data as samples

from bench.common import CALIBRATION_FOLDER, bench_parser, bench_setup, report
from model.dataset import list_labelled_files
from model.imaging.decode import read_image
from model.imaging.formats import image_files
from model.imaging.shifts import BENCHMARK_SHIFTS
from model.inference import Classifier
from model.trust.ood import OodModel, load_ood
from model.trust.view_checks import Probe, load_view_checks
from review.triage import UNCERTAIN, assess_files

XRAY_SAMPLE = 16
PYDICOM_FILES = ("CT_small.dcm", "MR_small.dcm")
SEED = 0

Images = list[np.ndarray]


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def as_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    image = image.astype(np.float64)
    return np.round(255 * (image - image.min()) / max(image.max() - image.min(), 1e-9)).astype(np.uint8)


def document(seed: int) -> np.ndarray:
    """A scanned-looking page: a title, paragraphs of words and a ruled table."""
    rng = np.random.default_rng(seed)
    page = Image.new("L", (850, 1100), 245)
    draw = ImageDraw.Draw(page)
    words = ["patient", "report", "findings", "chest", "clinical", "history", "impression", "lungs", "heart", "normal",
             "follow", "up"]
    draw.text((70, 60), "RADIOLOGY REPORT", fill=10, font=ImageFont.load_default(size=36))
    body = ImageFont.load_default(size=int(rng.integers(14, 22)))
    y = 140
    while y < 700:
        draw.text((70, y), " ".join(rng.choice(words, size=9)), fill=20, font=body)
        y += int(body.size * 1.6)
    for row in range(6):
        draw.line((70, 740 + 50 * row, 780, 740 + 50 * row), fill=40, width=2)
    return np.asarray(page)


def noise_images() -> Images:
    rng = np.random.default_rng(SEED)
    uniform = rng.integers(0, 256, (512, 512), dtype=np.uint8)
    gaussian = np.clip(rng.normal(128, 40, (512, 512)), 0, 255).astype(np.uint8)
    salt = np.where(rng.random((512, 512)) < 0.5, 0, 255).astype(np.uint8)
    blotches = as_uint8(cv2.GaussianBlur(rng.random((512, 512)), (0, 0), 12))
    colour = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    return [uniform, gaussian, salt, blotches, colour]


def blank_images(xrays: Images) -> Images:
    gradient = np.tile(np.linspace(0, 255, 512), (512, 1)).astype(np.uint8)
    flat = [np.full((512, 512), value, np.uint8) for value in (0, 128, 255)]
    overexposed = [np.clip(x.astype(np.float32) * 3.0, 0, 255).astype(np.uint8) for x in xrays[:4]]
    return flat + [gradient] + overexposed


def quarters(xray: np.ndarray) -> Iterator[np.ndarray]:
    height, width = xray.shape
    for top in (0, height // 2):
        for left in (0, width // 2):
            yield xray[top : top + height // 2, left : left + width // 2]


def hemithorax(xray: np.ndarray) -> np.ndarray:
    """One half of the chest stretched to the full width: a crude stand-in for a lateral view."""
    height, width = xray.shape
    return cv2.resize(xray[:, : width // 2], (width, height), interpolation=cv2.INTER_LINEAR)


def other_images(xrays: Images) -> dict[str, Images]:
    """The non-chest-X-ray set, by kind."""
    return {
        "colour photographs": [samples.astronaut(), samples.chelsea(), samples.coffee(), samples.rocket(),
                               samples.cat(), samples.hubble_deep_field(), samples.stereo_motorcycle()[0]],
        "grayscale photographs": [samples.camera(), samples.moon(), samples.coins(), samples.clock(),
                                  as_uint8(samples.horse())],
        "microscopy and fundus": [samples.cell(), samples.immunohistochemistry(), samples.retina()],
        "graphics": [samples.logo(), samples.colorwheel(), samples.checkerboard(), as_uint8(samples.binary_blobs())],
        "textures": [samples.brick(), samples.grass(), samples.gravel()],
        "CT-like slice (Shepp-Logan phantom)": [as_uint8(samples.shepp_logan_phantom())],
        "documents": [samples.page(), samples.text()] + [document(seed) for seed in range(4)],
        "noise": noise_images(),
        "blank, gradient, over-exposed": blank_images(xrays),
        "inverted X-rays": [255 - x for x in xrays],
        "X-rays turned 90 degrees": [np.rot90(x) for x in xrays],
        "X-rays upside down": [np.rot90(x, 2) for x in xrays],
        "X-ray quarters": [q for x in xrays[:4] for q in quarters(x)],
        "one hemithorax stretched (lateral stand-in)": [hemithorax(x) for x in xrays],
    }


def flagged(classifier: Classifier, ood: OodModel, probes: list[Probe], name: str, data: bytes) -> bool:
    """Whether the page would grey or warn about this upload (an uncertain call alone does not count)."""
    [assessment] = assess_files(classifier, [(name, data)], ood, probes)
    return any(signal.code != UNCERTAIN for signal in assessment.trust_signals)


def table(title: str, rows: list[tuple[str, int, float]]) -> list[str]:
    lines = [title, f"  {'images':<46} {'n':>4} {'flagged':>8}"]
    lines += [f"  {name:<46} {n:>4} {fraction:>8.1%}" for name, n, fraction in rows]
    return lines


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--other", type=Path, help="lateral/ and adult_frontal/ X-rays from other sources")
    args = parser.parse_args()
    setup = bench_setup(args)
    classifier, root, scores = setup.classifier, setup.data_root, setup.validation
    other_root = args.other or root.parent / "other_xrays"
    ood, probes = load_ood(setup.artifacts_dir), load_view_checks(setup.artifacts_dir)
    later_images = [read_image(path).pixels for path in list_labelled_files(root / "val").paths]
    rng = np.random.default_rng(SEED)
    sampled = rng.choice(len(scores.files), min(XRAY_SAMPLE, len(scores.files)), replace=False)
    xrays = later_images + [read_image(root / scores.files[i]).pixels for i in np.sort(sampled)]

    def row(name: str, images: Images) -> tuple[str, int, float]:
        uploads = [png_bytes(np.ascontiguousarray(image)) for image in images]
        return name, len(images), float(np.mean([flagged(classifier, ood, probes, "x.png", d) for d in uploads]))

    def files_row(name: str, paths: list[Path]) -> tuple[str, int, float]:
        caught = [flagged(classifier, ood, probes, path.name, path.read_bytes()) for path in paths]
        return name, len(paths), float(np.mean(caught))

    real = [
        files_row("validation split", [root / name for name in scores.files]),
        files_row("later calibration sample", list_labelled_files(root / CALIBRATION_FOLDER).paths),
        files_row("later full-resolution val/", list_labelled_files(root / "val").paths),
    ]
    real_others = [
        files_row("DICOM CT and MR shipped with pydicom", [Path(get_testdata_file(n)) for n in PYDICOM_FILES]),
    ]
    if (other_root / "lateral").is_dir():
        real_others += [
            files_row("lateral X-rays, other sources (in-sample)", image_files(other_root / "lateral")),
            files_row("adult frontal X-rays, other sources (in-sample)", image_files(other_root / "adult_frontal")),
        ]
    others = [row(name, images) for name, images in other_images(xrays).items()]
    shifted = [
        row(name, [shift(x) for x in later_images]) for name, shift in BENCHMARK_SHIFTS.items() if name != "none"
    ]
    total = sum(n for _, n, _ in others)
    caught = sum(n * fraction for _, n, fraction in others)
    lines = [
        f"model {classifier.version}; OOD limit {ood.threshold:.1f} "
        f"({ood.summary['threshold_percentile']:g}th percentile of validation distances)",
        f"X-ray-derived images use the {len(later_images)} val/ originals and a seeded sample of "
        f"{len(xrays) - len(later_images)} from the validation split (quarters and over-exposed copies: the first 4).",
        "",
        *table("Real pediatric chest X-rays (target: at most 3% flagged)", real),
        "",
        *table("Real images the model must not judge as they are (targets: CT/MR 100%, laterals 95%, adults 60%)",
               real_others),
        "",
        "Image-only probes, as fitted (model/artifacts/view_checks.json): leave-one-out share of the other-source",
        "X-rays flagged, each judged by a probe and limit fitted without it, and pediatric X-rays flagged",
        *[f"  {probe.code:<22} leave-one-out {probe.summary['positives_flagged_leave_one_out']:.0%} of "
          f"{probe.summary['positives']}; later pediatric {probe.summary['pediatric_later_flagged']:.1%}, "
          "1,000 training X-rays it was not fitted on (its limit was) "
          f"{probe.summary['pediatric_training_flagged']:.1%}" for probe in probes],
        "",
        *table("Non-chest-X-ray images (target: at least 90% flagged)", others),
        f"  {'all of them':<46} {total:>4} {caught / total:>8.1%}",
        f"  {'mean over kinds':<46} {len(others):>4} {np.mean([f for _, _, f in others]):>8.1%}",
        "",
        *table("Real val/ X-rays under mild acquisition shifts (information)", shifted),
    ]
    report("\n".join(lines) + "\n", "ood.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
