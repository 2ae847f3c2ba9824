"""Many clinicians at once, measured at the server: sessions driven through Streamlit's own protocol, no browser.

bench/load.py drives real Chromium pages, whose rendering on the same cores
is charged to the server. This driver speaks what a browser's Streamlit
client sends and reads what it gets, and renders nothing: GET the page and
the health check (which sets the XSRF cookie), open /_stcore/stream with that token as the second
subprotocol, ask for the page's first run, then, for every session at the
same moment: a file URL (file_urls_request), an HTTP PUT of the X-ray to it,
and a rerun with the uploader's new state. It times, from the moment each
upload starts, the delta that shows the Result metric (the call) and the
end of that run (script_finished: the page fully explained).

    python -m bench.load_protocol [--sessions 8 16 32] [--url http://host:port] [--results NAME] [--model DIR]
        [--data ROOT]

Without --url it starts `streamlit run app.py` itself (one process, as the
README's command). Results in bench/results/load_protocol.txt.
"""
from __future__ import annotations

import asyncio
import mimetypes
import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import requests
from PIL import Image
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileUploaderState, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect

from bench.common import PROJECT_ROOT, bench_parser, report
from model.card import read_card
from model.dataset import list_labelled_files
from model.paths import ARTIFACTS_ENV
from review.audit import AUDIT_DB_ENV
from tests.browser import RESULT_TIMEOUT_MS, streamlit_server

XSRF_COOKIE = "_streamlit_xsrf"
RESULT_LABEL = "Result"  # the call's metric (ui/diagnose/call.py)
WARM_UP_SESSIONS = 4
TARGETS = {8: (2.0, None), 16: (2.0, 11.0), 32: (3.0, None)}  # sessions: call worst, fully explained median


@dataclass
class Timing:
    call: float
    explained: float


class ProtocolSession:
    """One Streamlit session on the Diagnose page, as a browser's client would hold it."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()
        self.socket = None
        self.session_id = ""
        self.page_hash = ""
        self.uploader_id = ""

    async def open(self) -> None:
        """The page's first run, to its end: the uploader's widget id, the session's id, the page's hash."""
        await asyncio.to_thread(self.http.get, f"{self.url}/", timeout=30)
        await asyncio.to_thread(self.http.get, f"{self.url}/_stcore/health", timeout=30)  # sets the XSRF cookie
        token = self.http.cookies.get(XSRF_COOKIE, "")
        parts = urlsplit(self.url)
        self.socket = await connect(
            f"ws://{parts.netloc}/_stcore/stream", subprotocols=["streamlit", token] if token else ["streamlit"],
            origin=self.url, additional_headers={"Cookie": self._cookies()}, max_size=None,
            ping_interval=None, open_timeout=60,
        )
        await self._rerun([])
        await self._until(lambda message: message.WhichOneof("type") == "script_finished")

    def _cookies(self) -> str:
        """Every cookie the page set: the XSRF token, and behind a balancer its affinity cookie, so the websocket
        reaches the replica that will take the upload."""
        return "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())

    async def _send(self, message: BackMsg) -> None:
        await self.socket.send(message.SerializeToString())

    async def _rerun(self, widgets: list[WidgetState]) -> None:
        message = BackMsg()
        message.rerun_script.page_script_hash = self.page_hash
        message.rerun_script.widget_states.widgets.extend(widgets)
        await self._send(message)

    async def _until(self, done, on_message=None) -> ForwardMsg:
        while True:
            message = ForwardMsg()
            message.ParseFromString(await asyncio.wait_for(self.socket.recv(), RESULT_TIMEOUT_MS / 1000))
            kind = message.WhichOneof("type")
            if kind == "new_session":
                self.session_id = message.new_session.initialize.session_id
                self.page_hash = message.new_session.page_script_hash
            elif kind == "delta" and message.delta.new_element.WhichOneof("type") == "file_uploader":
                self.uploader_id = message.delta.new_element.file_uploader.id
            if on_message is not None:
                on_message(message)
            if done(message):
                return message

    async def upload(self, path: Path) -> Timing:
        """Choose `path` in the uploader as the browser does; seconds to the call and to the run's end."""
        started = time.perf_counter()
        request = BackMsg()
        request.file_urls_request.request_id = "upload"
        request.file_urls_request.session_id = self.session_id
        request.file_urls_request.file_names.append(path.name)
        await self._send(request)
        answer = await self._until(lambda message: message.WhichOneof("type") == "file_urls_response")
        urls = answer.file_urls_response.file_urls[0]
        data = path.read_bytes()
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        response = await asyncio.to_thread(
            self.http.put, f"{self.url}{urls.upload_url}" if urls.upload_url.startswith("/") else urls.upload_url,
            files={"UploadedFile": (path.name, data, mime)},
            headers={"X-Xsrftoken": self.http.cookies.get(XSRF_COOKIE, "")}, timeout=60,
        )
        response.raise_for_status()
        state = WidgetState(id=self.uploader_id)
        state.file_uploader_state_value.CopyFrom(FileUploaderState(uploaded_file_info=[UploadedFileInfo(
            name=path.name, size=len(data), file_id=urls.file_id, file_urls=urls)]))
        await self._rerun([state])
        called: list[float] = []

        def note_call(message: ForwardMsg) -> None:
            element = message.delta.new_element if message.WhichOneof("type") == "delta" else None
            if not called and element is not None and element.WhichOneof("type") == "metric" \
                    and element.metric.label == RESULT_LABEL:
                called.append(time.perf_counter() - started)

        finished = await self._until(
            lambda message: message.WhichOneof("type") == "script_finished"
            and message.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY, note_call)
        explained = time.perf_counter() - started
        if not called:
            raise RuntimeError(f"the run for {path.name} ended ({finished.script_finished}) without a call")
        return Timing(called[0], explained)

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        self.http.close()


async def at_once(url: str, paths: list[Path]) -> list[Timing]:
    """Open one session per path, then start every upload at the same moment."""
    sessions = [ProtocolSession(url) for _ in paths]
    try:
        await asyncio.gather(*(session.open() for session in sessions))
        return await asyncio.gather(*(session.upload(path) for session, path in zip(sessions, paths)))
    finally:
        await asyncio.gather(*(session.close() for session in sessions))


def summary(count: int, timings: list[Timing]) -> list[str]:
    calls, explained = [t.call for t in timings], [t.explained for t in timings]
    call_target, explained_target = TARGETS.get(count, (None, None))
    met = []
    if call_target is not None:
        met.append(f"call worst <= {call_target:g} s: {'met' if max(calls) <= call_target else 'NOT met'}")
    if explained_target is not None:
        met.append(f"explained median <= {explained_target:g} s: "
                   f"{'met' if statistics.median(explained) <= explained_target else 'NOT met'}")
    return [f"{count:8d}  {statistics.median(calls):6.2f} / {max(calls):5.2f}  "
            f"{statistics.median(explained):8.2f} / {max(explained):6.2f}  {'; '.join(met)}"]


def distinct_xrays(originals: list[Path], count: int, round_number: int, folder: Path, salt: int) -> list[Path]:
    """`count` X-rays no session has sent before: the originals, each with its first row's first pixels set from
    the run's salt, the round and its place, as lossless PNG. The app keeps explanations by image digest (behind a
    balancer, in Redis across runs), so a repeat would be free."""
    paths = []
    for index in range(count):
        pixels = np.asarray(Image.open(originals[index % len(originals)]).convert("L")).copy()
        pixels[0, :4] = np.frombuffer((salt + round_number * 1024 + index).to_bytes(4, "little"), dtype=np.uint8)
        path = folder / f"r{round_number}_{index:02d}_{originals[index % len(originals)].stem}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def measure(url: str, counts: list[int], originals: list[Path], folder: Path) -> list[str]:
    salt = secrets.randbelow(2**31)
    # The model loaded and code imported in every process: behind a balancer, on each replica and worker process.
    warm = asyncio.run(at_once(url, distinct_xrays(originals, WARM_UP_SESSIONS, 0, folder, salt)))
    lines = [f"warm-up: {WARM_UP_SESSIONS} uploads at once, worst call {max(t.call for t in warm):.2f} s, worst "
             f"explained {max(t.explained for t in warm):.2f} s", "",
             "sessions  call median / worst s  explained median / worst s  targets"]
    for round_number, count in enumerate(counts, start=1):
        paths = distinct_xrays(originals, count, round_number, folder, salt)
        lines += summary(count, asyncio.run(at_once(url, paths)))
    return lines


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--sessions", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--url", help="a running app (e.g. the balancer); default: start `streamlit run app.py`")
    parser.add_argument("--results", default="load_protocol.txt", help="file name under bench/results/")
    args = parser.parse_args()
    data_root = args.data or (PROJECT_ROOT / read_card(args.model).data["root"])
    originals = list_labelled_files(data_root / "val").paths
    with tempfile.TemporaryDirectory(prefix="load_protocol_") as scratch:
        folder = Path(scratch)
        if args.url:
            where, lines = args.url, measure(args.url, args.sessions, originals, folder)
        else:
            env = {ARTIFACTS_ENV: str(args.model.resolve()), AUDIT_DB_ENV: str(folder / "audit.sqlite3")}
            with streamlit_server(folder / "streamlit.log", env) as server:
                where = f"`streamlit run app.py` ({server.url})"
                lines = measure(server.url, args.sessions, originals, folder)
    text = "\n".join([
        f"Sessions driven through Streamlit's protocol (no browser) against {where}; val/ originals made distinct "
        "(first pixels set from the run, the round and the session), default explanation settings; all uploads "
        "released at the same moment; seconds from each upload's start.",
        "", *lines, "",
    ])
    report(text, args.results)


if __name__ == "__main__":
    main()
