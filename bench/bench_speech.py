"""Speech recognition: time per second of audio on this machine, and word error rate on a synthesised set.

The set: IVR answers and short sentences spoken by flite's ``kal`` voice (8 kHz, a telephone line's rate),
each followed by 1 s of silence as FreeSWITCH's ``record`` leaves it (it stops after the silence), written
by the simulator's speech module — the same audio the speech tests record. Measured with the shipped
engine (SPEECH_ENGINE, default PocketSphinx):

* ``load_s`` — loading the model (once per worker process);
* ``open`` — the open-vocabulary language model (transcripts, recognize without grammar): real-time factor
  (decode seconds per second of audio; < 1 is faster than the caller speaks), WER;
* ``grammar`` — the same answers against a JSGF grammar of the menu's phrases (KooKoo grammar);
* ``hints`` — the answers with the menu's phrases as hints (TwiML/Plivo hints);
* ``pool`` — every utterance twice through :class:`ivr.speech.pool.SpeechPool` with 2 worker subprocesses,
  all at once from greenlets, as a runtime's calls would: audio seconds recognised per wall second, and the
  longest the gevent loop was kept from running meanwhile (a 1 ms ticker's largest gap), beside the same
  ticker's largest gap over 3 s with nothing running (what the machine's load alone does).

Needs flite or espeak-ng (``apt-get install flite``); without one the bench says so and reports nothing.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

MENU = ["sales", "support", "billing", "check my balance", "talk to an agent", "cancel my order", "yes", "no",
        "repeat the menu", "pay my bill"]
SENTENCES = ["i want to check my balance", "please cancel my order", "i would like to talk to an agent",
             "my payment did not go through", "call me back tomorrow morning"]
JSGF = "#JSGF V1.0;\ngrammar menu;\npublic <choice> = " + " | ".join(MENU) + ";\n"


def _corpus(directory: str) -> list[tuple[str, str]]:
    from freeswitch.sim import speech

    out = []
    for i, text in enumerate(MENU + SENTENCES):
        utterance = "say:" + text
        path = os.path.join(directory, f"u{i:02d}.wav")
        speech.write(path, [utterance], speech.seconds(utterance) + 1.0)
        out.append((text, path))
    return out


def _run(engine, corpus, **kwargs) -> tuple[float, list[float], list[tuple[str, str]]]:
    from ivr.speech import audio

    rtf, pairs, audio_total = [], [], 0.0
    for text, path in corpus:
        started = time.perf_counter()
        result = engine.recognize(path, **kwargs)
        took = time.perf_counter() - started
        seconds = audio.read_pcm16k(path)[1]
        audio_total += seconds
        rtf.append(took / seconds)
        pairs.append((text, result.text))
    return audio_total, rtf, pairs


def _pool_figures(corpus) -> dict:
    import gevent

    from ivr.speech import audio
    from ivr.speech.pool import SpeechPool

    pool = SpeechPool("pocketsphinx", 2)
    pool.recognize(corpus[0][1])  # start both workers' models outside the timing
    pool.recognize(corpus[1][1])
    gaps: list[float] = []
    stop: list[bool] = []

    def ticker():
        last = time.perf_counter()
        while not stop:
            gevent.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    # The same ticker with nothing else to do first: what this machine's load alone does to the loop.
    tick = gevent.spawn(ticker)
    gevent.sleep(3.0)
    stop.append(True)
    tick.join()
    idle = max(gaps)
    gaps.clear()
    stop.clear()
    tick = gevent.spawn(ticker)
    started = time.perf_counter()
    jobs = [gevent.spawn(pool.recognize, path) for _, path in corpus * 2]
    gevent.joinall(jobs, raise_error=True)
    wall = time.perf_counter() - started
    stop.append(True)
    tick.join()
    pool.close()
    audio_total = 2 * sum(audio.read_pcm16k(p)[1] for _, p in corpus)
    return {"pool_2_workers_audio_seconds_per_second": round(audio_total / wall, 2),
            "pool_loop_longest_stall_ms": round(max(gaps) * 1000, 1),
            "idle_loop_longest_stall_ms": round(idle * 1000, 1)}


def main() -> dict:
    """Run the bench; returns its figures."""
    from freeswitch.sim import speech
    from ivr.speech import load_recognizer
    from ivr.speech.wer import wer

    if speech.synthesiser() is None:
        return {"skipped": "neither flite nor espeak-ng is installed (apt-get install flite)"}
    with tempfile.TemporaryDirectory(prefix="bench-speech-") as directory:
        corpus = _corpus(directory)
        started = time.perf_counter()
        engine = load_recognizer("pocketsphinx")
        load_s = time.perf_counter() - started
        menu = corpus[:len(MENU)]
        audio_open, rtf_open, pairs_open = _run(engine, corpus)
        _, rtf_grammar, pairs_grammar = _run(engine, menu, grammar=JSGF)
        _, rtf_hints, pairs_hints = _run(engine, menu, hints=tuple(MENU))
        figures = {
            "utterances": len(corpus),
            "audio_seconds": round(audio_open, 1),
            "load_s": round(load_s, 2),
            "open_rtf_median": round(statistics.median(rtf_open), 3),
            "open_rtf_max": round(max(rtf_open), 3),
            "open_wer_menu": round(wer(pairs_open[:len(MENU)]), 3),
            "open_wer_sentences": round(wer(pairs_open[len(MENU):]), 3),
            "grammar_rtf_median": round(statistics.median(rtf_grammar), 3),
            "grammar_wer": round(wer(pairs_grammar), 3),
            "hints_rtf_median": round(statistics.median(rtf_hints), 3),
            "hints_wer": round(wer(pairs_hints), 3),
            "open_misheard": "; ".join(f"{r!r}->{h!r}" for r, h in pairs_open if r != h)[:400],
        }
        figures.update(_pool_figures(corpus))
    try:
        figures["load_average"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return figures
