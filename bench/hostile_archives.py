"""Peak memory and time while the app scores hostile archives and decodes hostile files, as the pages do.

    python -m bench.hostile_archives [--model model/artifacts] [--data ../shared/data/chest_xray] [--gib 3] [--compare]

Each archive holds four real X-rays from val/ beside its hostile members and
is scored with review.archive.evaluate_archive, the Model & data page's own
call; the decoder cases go through model.imaging.decode.decode_image, the
Diagnose page's. The bombs inflate to --gib GiB (3 by default, the size the
issue measured) of zeros. For each: the upload's size, the peak resident
memory above what the process held before (the high-water mark, reset
first: tests/memory.py), the seconds, and what the page says. With
--compare, each input is also read the way the app read it before (Python's
zipfile asked for at most MAX_FILE_BYTES of a zip's first bomb; pydicom's
reader for the DICOM). A warm-up scoring of a clean archive comes first, so
the figures are the hostile members' own. Figures go to
bench/results/hostile_archives.txt.
"""
from __future__ import annotations

import io
import sys
import time
import zipfile
from collections.abc import Callable

import pydicom

from bench.common import bench_parser, bench_setup, report
from model.dataset import CLASS_NAMES, list_labelled_files
from model.errors import InputError
from model.imaging.decode import decode_image
from model.imaging.decoded import MAX_FILE_BYTES
from model.imaging.inflate import MAX_COMPRESSION_RATIO
from review.archive import evaluate_archive, open_labelled_zip
from tests.inputs import deflated_dicom, make_zip, png_text_bomb, zip_bomb
from tests.memory import MIB, peak_growth

GIB = 1 << 30
STORED_BYTES = 64 * MIB  # a stored member is as large in the upload as out of it
HONEST_BOMB_BYTES = 190 * MIB  # under the 200 MB a radiograph file may have, so only the ratio stops it
MEMBER = "NORMAL/bomb.png"
METHODS = (("stored", zipfile.ZIP_STORED), ("deflate", zipfile.ZIP_DEFLATED), ("bzip2", zipfile.ZIP_BZIP2),
           ("LZMA", zipfile.ZIP_LZMA))


def measure(action: Callable[[], str]) -> tuple[float, float, str]:
    """Peak growth in MiB, seconds and what the app said, for one hostile input."""
    started = time.perf_counter()
    with peak_growth() as peak:
        said = action()
    return peak.mib, time.perf_counter() - started, said


def zipfile_reads(archive: bytes) -> str:
    """What the app did before: zipfile's reader, asked for at most a radiograph's bytes of the first bomb."""
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle, bundle.open(MEMBER) as member:
        try:
            return f"{len(member.read(MAX_FILE_BYTES + 1)):,} bytes"
        except zipfile.BadZipFile as error:  # the cut-off content fails its CRC, after the whole block inflated
            return str(error)


def pydicom_reads(data: bytes) -> str:
    """What the app did before with a deflated DICOM: pydicom's reader, which inflates the whole data set."""
    return str(len(pydicom.dcmread(io.BytesIO(data), force=True)))


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--gib", type=float, default=3.0, help="what each bomb inflates to, in GiB")
    parser.add_argument("--compare", action="store_true",
                        help="also read each input as the app did before (zipfile, pydicom), for what that cost")
    args = parser.parse_args()
    setup = bench_setup(args)
    classifier = setup.classifier
    inflated = int(args.gib * GIB)
    val = list_labelled_files(setup.data_root / "val")
    picks = [index for label in (0, 1) for index in [i for i, x in enumerate(val.labels) if x == label][:2]]
    xrays = {f"{CLASS_NAMES[val.labels[i]]}/{val.paths[i].name}": val.paths[i].read_bytes() for i in picks}

    def scored(archive: bytes) -> str:
        result = evaluate_archive(classifier, open_labelled_zip(archive, "hostile.zip"))
        first = f": {result['skipped'][0]['reason']}" if result["skipped"] else ""
        return f"{result['n']} scored, {len(result['skipped'])} skipped{first}"

    def decoded(data: bytes, name: str) -> str:
        try:
            decode_image(data, name)
        except InputError as error:
            return str(error)
        return "decoded"

    scored(make_zip(xrays))  # warm-up: the network's first call allocates its buffers
    # (what, the bytes, how the app now reads them, how it read them before this cap)
    cases: list[tuple[str, bytes, Callable[[bytes], str], Callable[[bytes], str] | None]] = []
    for method_name, method in METHODS:
        size = STORED_BYTES if method == zipfile.ZIP_STORED else inflated
        cases.append((f"zip, {method_name} member of {size / MIB:,.0f} MiB declaring 1,000 bytes",
                      zip_bomb(method, size, 1000, xrays), scored, zipfile_reads))
    three = zip_bomb(zipfile.ZIP_BZIP2, inflated, 1000, xrays, (MEMBER, "NORMAL/bomb2.png", "PNEUMONIA/bomb3.png"))
    cases.append((f"zip, three bzip2 members of {inflated / MIB:,.0f} MiB declaring 1,000 bytes", three, scored,
                  zipfile_reads))
    cases.append((f"zip, bzip2 member declaring its true {HONEST_BOMB_BYTES / MIB:,.0f} MiB",
                  zip_bomb(zipfile.ZIP_BZIP2, HONEST_BOMB_BYTES, None, xrays), scored, zipfile_reads))
    cases.append((f"DICOM, deflated data set of {inflated / MIB:,.0f} MiB", deflated_dicom(inflated),
                  lambda data: decoded(data, "bomb.dcm"), pydicom_reads))
    cases.append((f"PNG, text chunk of {inflated / MIB:,.0f} MiB", png_text_bomb(inflated),
                  lambda data: decoded(data, "text.png"), None))
    rows = []
    for description, data, action, old_path in cases:
        peak, seconds, said = measure(lambda data=data, action=action: action(data))
        before = "–"
        if old_path is not None and args.compare:
            old_peak, old_seconds, _ = measure(lambda data=data, old_path=old_path: old_path(data))
            before = f"{old_peak:,.0f} MiB, {old_seconds:.1f} s"
        rows.append(f"| {description} | {len(data) / 1e3:,.0f} KB | {peak:,.0f} MiB | {seconds:.2f} s | {before} | {said} |")
        print(rows[-1], flush=True)
    report(
        f"Hostile archives and files, scored and decoded as the pages do (bombs inflate to {args.gib:g} GiB; "
        f"cap: the declared size, {MAX_COMPRESSION_RATIO}x the compressed size beyond 1 MB, and 200 MB)\n\n"
        "| input | size | peak memory added | time | before: zipfile's or pydicom's reader | what the page says |\n"
        "|---|---|---|---|---|---|\n"
        + "\n".join(rows) + "\n",
        "hostile_archives.txt",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
