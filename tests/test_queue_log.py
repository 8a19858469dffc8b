"""Reading Asterisk's queue_log: who took each queue call, and when the talk ended.

The lines follow main/logger.c (``epoch|callid|queue|agent|event|data…``) and the data layouts
of apps/app_queue.c."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp.importers.queue_log import Talk, bare_callid, extension, read, same_call


def utc(hh: int, mm: int, ss: int) -> datetime:
    return datetime(2024, 1, 15, hh, mm, ss, tzinfo=UTC)


# 1705276800 is 2024-01-15 00:00:00 UTC.
LINES: list[bytes] = [
    b"1705300000|NONE|NONE|NONE|QUEUESTART|",
    b"1705302000|REALTIME|support|Aino Agentti|ADDMEMBER|",
    # A: rings 202 (no answer), 201 answers, the caller hangs up.
    b"1705303812|1705303812.42|support|NONE|ENTERQUEUE||0401234567|1",
    b"1705303827|1705303812.42|support|PJSIP/202|RINGNOANSWER|15000",
    b"1705303830|1705303812.42|support|PJSIP/201|CONNECT|18|1705303815.43|3",
    b"1705303950|1705303812.42|support|PJSIP/201|COMPLETECALLER|18|120|1",
    # B: the agent hangs up.
    b"1705304000|1705304000.50|support|NONE|ENTERQUEUE||0501234567|1",
    b"1705304010|1705304000.50|support|SIP/8007|CONNECT|10|1705304002.51|8",
    b"1705304100|1705304000.50|support|SIP/8007|COMPLETEAGENT|10|90|1",
    b"",
    # C: blind transfer (Asterisk 12+), the member a Local channel.
    b"1705304205|1705304200.55|support|Local/201@from-queue/n|CONNECT|5|1705304200.56|5\r",
    b"1705304265|1705304200.55|support|Local/201@from-queue/n|BLINDTRANSFER"
    b"|300|from-internal|5|60|1\r",
    # D: attended transfer by linking two bridges (six data fields), D2 by a bridge merge.
    b"1705304304|1705304300.60|support|PJSIP/203|CONNECT|4|1705304300.61|4",
    b"1705304394|1705304300.60|support|PJSIP/203|ATTENDEDTRANSFER|LINK"
    b"|Local/300@from-internal-00000001;1|Local/300@from-internal-00000001;2|4|90|1",
    b"1705304314|1705304310.62|support|PJSIP/204|CONNECT|4|1705304310.63|4",
    b"1705304404|1705304310.62|support|PJSIP/204|ATTENDEDTRANSFER|BRIDGE"
    b"|5e5d2a30-8c8e-4b8e-9f5e-1c2d3e4f5a6b|4|90|1",
    # E: Asterisk 11 and older write TRANSFER.
    b"1705304407|1705304400.65|support|SIP/8007|CONNECT|7|1705304400.66|7",
    b"1705304452|1705304400.65|support|SIP/8007|TRANSFER|300|from-internal|7|45|1",
    # Hot desk: two people log in by name on the same phone on the same day.
    b"1705310000|1705310000.70|support|Aino Agentti|CONNECT|3|1705310001.71|2",
    b"1705310120|1705310000.70|support|Aino Agentti|COMPLETECALLER|3|120|1",
    b"1705316400|REALTIME|support|Aino Agentti|REMOVEMEMBER|",
    b"1705316500|REALTIME|support|Bertil Bengtsson|ADDMEMBER|",
    b"1705320005|1705320000.80|support|Bertil Bengtsson|CONNECT|5|1705320001.81|4",
    b"1705320065|1705320000.80|support|Bertil Bengtsson|COMPLETEAGENT|5|60|1",
    # Connected twice: 201 in support transfers to the sales queue, where 202 answers.
    b"1705321000|1705321000.90|support|NONE|ENTERQUEUE||0401112222|1",
    b"1705321010|1705321000.90|support|PJSIP/201|CONNECT|10|1705321002.91|8",
    b"1705321070|1705321000.90|support|PJSIP/201|BLINDTRANSFER|601|ext-queues|10|60|1",
    b"1705321071|1705321000.90|sales|NONE|ENTERQUEUE||0401112222|1",
    b"1705321080|1705321000.90|sales|PJSIP/202|CONNECT|9|1705321072.93|8",
    b"1705321200|1705321000.90|sales|PJSIP/202|COMPLETECALLER|9|120|1",
    # Back to the same queue and the same agent.
    b"1705322005|1705322000.95|support|PJSIP/201|CONNECT|5|1705322001.96|4",
    b"1705322050|1705322000.95|support|PJSIP/201|BLINDTRANSFER|600|ext-queues|5|45|1",
    b"1705322060|1705322000.95|support|PJSIP/201|CONNECT|9|1705322052.97|7",
    b"1705322100|1705322000.95|support|PJSIP/201|COMPLETEAGENT|9|40|1",
    # Abandoned: no talk.
    b"1705323000|1705323000.99|support|NONE|ENTERQUEUE||0409998888|1",
    b"1705323015|1705323000.99|support|PJSIP/201|RINGNOANSWER|15000",
    b"1705323025|1705323000.99|support|NONE|ABANDON|1|1|25",
    # Malformed lines: none of them stops the file.
    b"garbage line",
    b"1705324100|1705324000.1|support",
    b"abc|1705324000.2|support|PJSIP/201|CONNECT|1|1705324000.3|1",
    # A systemname prefix, still talking.
    b"1705324005|pbx1-1705324000.100|support|PJSIP/201|CONNECT|5|pbx1-1705324001.101|4",
    # A member name that is not UTF-8.
    b"1705325005|1705325000.110|support|Kaisa J\xe4rvinen|CONNECT|5|1705325001.111|4",
    b"",
    b"1705325100|1705325000.110|support|Kaisa J\xe4rvinen|COMPLETECALLER|5|95|1",  # no newline
]


def line_of(fragment: bytes) -> int:
    return next(i for i, line in enumerate(LINES, 1) if fragment in line)


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "queue_log"
    p.write_bytes(b"\n".join(LINES))
    return p


def test_connect_and_complete_caller(path):
    log = read(path)
    assert log.talks("1705303812.42") == [
        Talk(
            queue="support",
            agent="PJSIP/201",
            connected=utc(7, 30, 30),
            ended=utc(7, 32, 30),
            how="COMPLETECALLER",
            bridged_uniqueid="1705303815.43",
        )
    ]


def test_complete_agent(path):
    [talk] = read(path).talks("1705304000.50")
    assert (talk.agent, talk.connected, talk.ended, talk.how) == (
        "SIP/8007",
        utc(7, 33, 30),
        utc(7, 35, 0),
        "COMPLETEAGENT",
    )
    assert talk.bridged_uniqueid == "1705304002.51"


def test_transfers_end_the_talk(path):
    log = read(path)
    [blind] = log.talks("1705304200.55")
    assert (blind.agent, blind.connected, blind.ended, blind.how) == (
        "Local/201@from-queue/n",
        utc(7, 36, 45),
        utc(7, 37, 45),
        "BLINDTRANSFER",
    )
    [link] = log.talks("1705304300.60")
    assert (link.agent, link.connected, link.ended, link.how) == (
        "PJSIP/203",
        utc(7, 38, 24),
        utc(7, 39, 54),
        "ATTENDEDTRANSFER",
    )
    [merge] = log.talks("1705304310.62")
    assert (merge.ended, merge.how) == (utc(7, 40, 4), "ATTENDEDTRANSFER")
    [classic] = log.talks("1705304400.65")
    assert (classic.agent, classic.connected, classic.ended, classic.how) == (
        "SIP/8007",
        utc(7, 40, 7),
        utc(7, 40, 52),
        "TRANSFER",
    )


def test_hot_desk_members_by_name(path):
    log = read(path)
    [aino] = log.talks("1705310000.70")
    [bertil] = log.talks("1705320000.80")
    assert (aino.agent, aino.connected, aino.ended) == (
        "Aino Agentti",
        utc(9, 13, 20),
        utc(9, 15, 20),
    )
    assert (bertil.agent, bertil.connected, bertil.ended, bertil.how) == (
        "Bertil Bengtsson",
        utc(12, 0, 5),
        utc(12, 1, 5),
        "COMPLETEAGENT",
    )
    assert extension(aino.agent) is None


def test_connected_twice_in_two_queues(path):
    assert read(path).talks("1705321000.90") == [
        Talk(
            "support",
            "PJSIP/201",
            utc(12, 16, 50),
            utc(12, 17, 50),
            "BLINDTRANSFER",
            "1705321002.91",
        ),
        Talk(
            "sales", "PJSIP/202", utc(12, 18, 0), utc(12, 20, 0), "COMPLETECALLER", "1705321072.93"
        ),
    ]


def test_connected_twice_to_the_same_agent(path):
    first, second = read(path).talks("1705322000.95")
    assert (first.connected, first.ended, first.how) == (
        utc(12, 33, 25),
        utc(12, 34, 10),
        "BLINDTRANSFER",
    )
    assert (second.connected, second.ended, second.how) == (
        utc(12, 34, 20),
        utc(12, 35, 0),
        "COMPLETEAGENT",
    )
    assert second.bridged_uniqueid == "1705322052.97"


def test_abandoned_call_has_no_talk(path):
    log = read(path)
    assert log.talks("1705323000.99") == []
    assert "1705323000.99" not in set(log.callids())


def test_counts_calls_with_a_connect(path):
    # A, B, C, D, D2, E, Aino, Bertil, twice, same agent twice, pbx1, Kaisa
    assert len(read(path)) == 12


def test_bad_lines_are_problems_and_the_rest_is_read(path):
    log = read(path)
    assert [n for n, _ in log.problems] == [
        line_of(b"garbage line"),
        line_of(b"1705324100|"),
        line_of(b"abc|"),
    ]
    assert "not a number" in log.problems[0][1]
    assert "3 fields" in log.problems[1][1]
    # Lines after the bad ones are still read, including the last one without a newline.
    [kaisa] = log.talks("1705325000.110")
    assert kaisa.agent == "Kaisa J\ufffdrvinen"
    assert (kaisa.ended, kaisa.how) == (utc(13, 25, 0), "COMPLETECALLER")


def test_systemname_prefix_and_open_talk(path):
    log = read(path)
    talks = log.talks("pbx1-1705324000.100")
    assert talks == log.talks("1705324000.100")
    [talk] = talks
    assert talk == Talk("support", "PJSIP/201", utc(13, 6, 45), None, "", "pbx1-1705324001.101")
    assert log.talks("pbx2-1705324000.100") == []
    assert list(log.callids()).count("pbx1-1705324000.100") == 1


def test_since_skips_older_lines(path):
    log = read(path, since=utc(7, 36, 0))
    assert log.talks("1705303812.42") == []
    assert log.talks("1705304000.50") == []
    [blind] = log.talks("1705304200.55")
    assert blind.ended == utc(7, 37, 45)
    assert len(log) == 10
    # A line at exactly `since` is kept; the garbage lines are still reported.
    assert len(read(path, since=utc(7, 30, 30)).talks("1705303812.42")) == 1
    assert len(log.problems) == 3


def test_since_drops_an_ending_whose_connect_was_before(path):
    log = read(path, since=utc(7, 31, 0))
    assert log.talks("1705303812.42") == []


def test_since_must_be_aware(path):
    with pytest.raises(ValueError, match="timezone-aware"):
        read(path, since=datetime(2024, 1, 15, 7, 36))


def test_empty_and_blank_files(tmp_path):
    p = tmp_path / "queue_log"
    p.write_bytes(b"")
    assert len(read(p)) == 0
    p.write_bytes(b"\n\n  \r\n")
    log = read(p)
    assert (len(log), log.problems) == (0, [])


def test_many_lines_read_one_by_one(tmp_path):
    p = tmp_path / "queue_log"
    start = 1705276800
    with p.open("wb") as f:
        for n in range(20_000):
            t = start + n * 10
            cid = f"{t}.{n}"
            f.write(f"{t}|{cid}|support|NONE|ENTERQUEUE||040{n:07d}|1\n".encode())
            f.write(f"{t + 1}|{cid}|support|PJSIP/201|RINGNOANSWER|1000\n".encode())
            f.write(f"{t + 2}|{cid}|support|PJSIP/202|CONNECT|2|{t}.{n}9|1\n".encode())
            f.write(f"{t + 9}|{cid}|support|PJSIP/202|COMPLETEAGENT|2|7|1\n".encode())
    log = read(p, since=datetime.fromtimestamp(start, UTC) + timedelta(seconds=100_000))
    assert len(log) == 10_000
    [talk] = log.talks(f"{start + 199_990}.19999")
    assert talk.ended == datetime.fromtimestamp(start + 199_999, UTC)


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ("PJSIP/201", "201"),
        ("SIP/201", "201"),
        ("IAX2/201", "201"),
        ("SIP/8007", "8007"),
        ("Local/201@from-queue/n", "201"),
        ("Local/201@from-queue-0000;1", "201"),
        ("PJSIP/201-0000001a", "201"),
        ("Aino Agentti", None),
        ("Sales/Aino Agentti", None),
        ("Agent/1001", None),
        ("", None),
        ("NONE", None),
    ],
)
def test_extension(agent, expected):
    assert extension(agent) == expected


def test_callid_forms():
    assert bare_callid("pbx1-1705303812.42") == "1705303812.42"
    assert bare_callid("my-pbx-1705303812.42") == "1705303812.42"
    assert bare_callid("1705303812.42") == "1705303812.42"
    assert same_call("pbx1-1705303812.42", "1705303812.42")
    assert same_call("1705303812.42", "pbx1-1705303812.42")
    assert same_call("1705303812.42", "1705303812.42")
    assert not same_call("pbx1-1705303812.42", "pbx2-1705303812.42")
    assert not same_call("1705303812.42", "1705303812.43")
