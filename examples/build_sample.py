#!/usr/bin/env python3
"""Build the demo mailbox for mentorbox: examples/sample.mbox and examples/sample-labels.json.

sample.mbox is the first inbox a new user triages: 48 made-up messages to Kai Andersen
<kai@andersen.dk>, dated January to March 2026, covering all five labels
(12 congratulation, 12 advice_request, 7 phd_offer, 8 job_lead, 9 other).

Some messages are awkward on purpose, to exercise the mail parser, but a human can still
label every one of them:
  - HTML only, with no text/plain part; multipart/alternative (text + HTML)
  - quoted-printable and base64 bodies
  - an ISO-8859-1 body with the right charset, and a Windows-1252 body that claims us-ascii
  - RFC 2047 encoded-words in Subject and From (UTF-8 Chinese, ISO-8859-1 German, and more)
  - a small fake PDF attachment, a PNG image attachment
  - a reply in a thread (In-Reply-To, References, quoted text)
  - no Subject header at all; Reply-To differing from From; 12 recipients in To/Cc
  - a long signature with a legal disclaimer
  - body lines starting with "From " (the mbox writer escapes them as ">From ")

sample-labels.json maps each Message-ID, exactly as it appears in the header (angle
brackets included), to the label a human would give it.

Every message is built here as raw RFC 5322 bytes (LF line endings) and added to the
mbox with the standard library's mailbox.mbox, which writes the "From " separator lines
and the ">From " escaping. Nothing depends on the clock or on randomness: running

    python examples/build_sample.py

again rewrites both files byte for byte identically. Standard library only.
"""

import base64
import datetime
import email.utils
import hashlib
import json
import mailbox
import os
import quopri
import struct
import sys
import textwrap
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
MBOX_PATH = os.path.join(HERE, "sample.mbox")
LABELS_PATH = os.path.join(HERE, "sample-labels.json")

KAI = "Kai Andersen <kai@andersen.dk>"
LABELS = ("congratulation", "advice_request", "phd_offer", "job_lead", "other")


# ---------------------------------------------------------------------------
# small helpers for building raw messages
# ---------------------------------------------------------------------------

class Part:
    """A MIME entity: a list of (name, value) headers and an encoded body (bytes)."""

    def __init__(self, headers, body):
        self.headers = list(headers)
        self.body = body

    def to_bytes(self):
        head = "".join(f"{n}: {v}\n" for n, v in self.headers).encode("ascii")
        return head + b"\n" + self.body


def ew(text, charset="UTF-8", enc="B"):
    """One RFC 2047 encoded-word."""
    data = text.encode(charset)
    if enc == "B":
        payload = base64.b64encode(data).decode("ascii")
    else:
        out = []
        for byte in data:
            ch = chr(byte)
            if ch == " ":
                out.append("_")
            elif ch.isascii() and (ch.isalnum() or ch in "!*+-/"):
                out.append(ch)
            else:
                out.append(f"={byte:02X}")
        payload = "".join(out)
    word = f"=?{charset}?{enc}?{payload}?="
    assert len(word) <= 75, word
    return word


def hard_wrap(text, width=72):
    """Wrap long lines (paragraphs written as one line) at `width`; keep short lines."""
    out = []
    for line in text.split("\n"):
        if len(line) <= 78 or line.startswith(">"):
            out.append(line)
        else:
            out.extend(textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False))
    return "\n".join(out)


def flow(text, width=72):
    """RFC 3676 format=flowed: soft breaks are a trailing space before the newline."""
    out = []
    for line in text.split("\n"):
        if line == "-- " or len(line) <= 78:
            out.append(line)
            continue
        chunks = textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False)
        out.extend(c + " " for c in chunks[:-1])
        out.append(chunks[-1])
    return "\n".join(out)


def text_part(text, charset="utf-8", cte=None, wrap="hard", codec=None, subtype="plain",
              extra=()):
    """A text/* leaf. `codec` is the codec really used for the bytes (for lying charsets)."""
    codec = codec or charset
    params = f'charset="{charset}"' if charset.lower() != "us-ascii" else "charset=us-ascii"
    if cte is None:
        cte = "7bit" if text.isascii() else "8bit"
    if cte in ("7bit", "8bit"):
        if wrap == "flowed":
            text = flow(text)
            params += "; format=flowed"
        elif wrap == "hard":
            text = hard_wrap(text)
    data = text.encode(codec)
    if cte == "quoted-printable":
        body = quopri.encodestring(data)
    elif cte == "base64":
        body = base64.encodebytes(data)
    else:
        body = data
        assert max(len(line) for line in body.split(b"\n")) <= 998
    if not body.endswith(b"\n"):
        body += b"\n"
    headers = [("Content-Type", f"text/{subtype}; {params}"),
               ("Content-Transfer-Encoding", cte)]
    headers.extend(extra)
    return Part(headers, body)


def html_part(html, charset="utf-8", cte="quoted-printable"):
    return text_part(html, charset=charset, cte=cte, wrap=None, subtype="html")


def binary_part(ctype, filename, data, disposition="attachment", content_id=None):
    headers = [("Content-Type", f'{ctype}; name="{filename}"'),
               ("Content-Disposition", f'{disposition}; filename="{filename}"'),
               ("Content-Transfer-Encoding", "base64")]
    if content_id:
        headers.append(("Content-ID", f"<{content_id}>"))
    return Part(headers, base64.encodebytes(data))


def multipart(subtype, parts, boundary, preamble=None):
    chunks = []
    if preamble:
        chunks.append(preamble.encode("ascii") + b"\n")
    for p in parts:
        chunks.append(b"--" + boundary.encode("ascii") + b"\n" + p.to_bytes() + b"\n")
    chunks.append(b"--" + boundary.encode("ascii") + b"--\n")
    return Part([("Content-Type", f'multipart/{subtype}; boundary="{boundary}"')],
                b"".join(chunks))


def rfc_date(spec):
    """'2026-01-13 09:41:22 +0100' -> datetime (aware)."""
    return datetime.datetime.strptime(spec, "%Y-%m-%d %H:%M:%S %z")


def boundary_for(key, style="plain"):
    h = hashlib.sha256(("boundary:" + key).encode()).hexdigest()
    if style == "gmail":
        return "000000000000" + h[:16]
    if style == "apple":
        return "Apple-Mail=_" + f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}".upper()
    if style == "outlook":
        return "_000_" + h[:24].upper() + "_"
    return "----=_Part_" + str(int(h[:10], 16)) + "." + h[10:14]


def make_mid(key, style, domain, when):
    h = hashlib.sha256(("mid:" + key).encode()).digest()
    hx = h.hex()
    if style == "gmail":
        tail = base64.b64encode(h + h[:6]).decode("ascii").replace("/", "_").rstrip("=")
        return f"<CA{tail[:46]}@mail.gmail.com>"
    if style == "outlook":
        host = "DB9PR0" + hx[0:1].translate(str.maketrans("0123456789abcdef", "2345678923456789")) \
            + "MB" + str(int(hx[1:5], 16) % 9000 + 1000)
        return f"<{host}{hx[5:25].upper()}@{host}.eurprd0{int(hx[25], 16) % 7 + 1}.prod.outlook.com>"
    if style == "uuid":
        return f"<{hx[:8]}-{hx[8:12]}-{hx[12:16]}-{hx[16:20]}-{hx[20:32]}@{domain}>"
    if style == "apple":
        return f"<{hx[:8].upper()}-{hx[8:12].upper()}-{hx[12:16].upper()}-{hx[16:20].upper()}-{hx[20:32].upper()}@{domain}>"
    stamp = when.astimezone(datetime.timezone.utc).strftime("%Y%m%d%H%M%S")
    return f"<{stamp}.{hx[:12]}@{domain}>"


# ---------------------------------------------------------------------------
# small binary attachments (deterministic, no zlib level dependence)
# ---------------------------------------------------------------------------

def stored_deflate(raw):
    """zlib stream using only 'stored' blocks, so the bytes never depend on the zlib version."""
    out = bytearray(b"\x78\x01")
    for i in range(0, len(raw), 65535):
        block = raw[i:i + 65535]
        final = 1 if i + 65535 >= len(raw) else 0
        out += bytes([final]) + struct.pack("<HH", len(block), len(block) ^ 0xFFFF) + block
    out += struct.pack(">I", zlib.adler32(raw) & 0xFFFFFFFF)
    return bytes(out)


def tiny_png(width=64, height=40):
    """A small heat-map-looking RGB image (a 'photo' of a saliency figure)."""
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            hot = max(0, 255 - 3 * ((x - 40) ** 2 + (y - 14) ** 2) // 4)
            warm = max(0, 200 - 4 * ((x - 15) ** 2 + (y - 28) ** 2) // 5)
            v = min(255, hot + warm)
            row += bytes((v, (v * v) // 400 % 256 if v > 180 else v // 3, 255 - v))
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", stored_deflate(raw)) + chunk(b"IEND", b""))


def tiny_pdf(lines):
    """A one-page PDF 1.4 with a correct xref table, showing `lines` in Helvetica."""
    def esc(s):
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = "BT /F1 11 Tf 16 TL 64 780 Td\n" + "".join(f"({esc(l)}) Tj T*\n" for l in lines) + "ET\n"
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        f"<< /Length {len(content.encode('latin-1'))} >>\nstream\n{content}endstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode("ascii")
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode("ascii")
    out += (f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode("ascii")
    return bytes(out)


# ---------------------------------------------------------------------------
# the messages
# ---------------------------------------------------------------------------

MESSAGES = []


def add(key, label, date, from_, subject, part, *, to=KAI, cc=None, mid=None, mid_style="plain",
        reply_to=None, in_reply_to=None, references=None, extra=(), return_path=None):
    """Register one message. subject=None means: no Subject header at all."""
    assert label in LABELS
    when = rfc_date(date)
    addr = email.utils.parseaddr(from_)[1]
    domain = addr.split("@")[1]
    if mid is None:
        mid = make_mid(key, mid_style, domain, when)
    headers = [("Return-Path", f"<{return_path or addr}>"),
               ("Delivered-To", "kai@andersen.dk")]
    headers += [("Date", email.utils.format_datetime(when)), ("From", from_)]
    if reply_to:
        headers.append(("Reply-To", reply_to))
    headers.append(("To", to))
    if cc:
        headers.append(("Cc", cc))
    if subject is not None:
        headers.append(("Subject", subject))
    headers.append(("Message-ID", mid))
    if in_reply_to:
        headers.append(("In-Reply-To", in_reply_to))
    if references:
        headers.append(("References", references))
    headers.extend(extra)
    headers.append(("MIME-Version", "1.0"))
    raw = Part(headers + part.headers, part.body).to_bytes()
    MESSAGES.append({"key": key, "label": label, "when": when, "env_from": addr,
                     "mid": mid, "raw": raw})


# ===== congratulation (12) ===================================================

add("c-olsson", "congratulation", "2026-01-14 08:52:10 +0100",
    "Margarethe Olsson <margarethe.olsson@chalmers.se>", "Your ICLR paper",
    html_part("""\
<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta name="Generator" content="Microsoft Word 15 (filtered medium)">
<style><!--
p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif;}
a:link, span.MsoHyperlink {color:#0563C1; text-decoration:underline;}
span.EpostStil17 {font-family:"Calibri",sans-serif; color:windowtext;}
@page WordSection1 {size:612.0pt 792.0pt; margin:72.0pt 72.0pt 72.0pt 72.0pt;}
div.WordSection1 {page:WordSection1;}
--></style>
</head>
<body lang="SV" link="#0563C1" vlink="#954F72" style="word-wrap:break-word">
<div class="WordSection1">
<p class="MsoNormal"><span lang="EN-GB">Dear Kai,<o:p></o:p></span></p>
<p class="MsoNormal"><span lang="EN-GB"><o:p>&nbsp;</o:p></span></p>
<p class="MsoNormal"><span lang="EN-GB">I read your spotlight paper on the early train from G&ouml;teborg this morning and could not resist writing before I even reached the office. Tying the saliency maps back to the individual training sequences a recurrent model has memorised is the most convincing evidence of that kind I have come across, and I particularly liked that you give a whole section to the cases where the method misleads. That sort of candour is rarer than it ought to be.<o:p></o:p></span></p>
<p class="MsoNormal"><span lang="EN-GB"><o:p>&nbsp;</o:p></span></p>
<p class="MsoNormal"><span lang="EN-GB">It goes straight onto the reading list for my doctoral course this spring. No need to answer this &#8211; I can only imagine what your inbox looks like right now.<o:p></o:p></span></p>
<p class="MsoNormal"><span lang="EN-GB"><o:p>&nbsp;</o:p></span></p>
<p class="MsoNormal"><span lang="EN-GB">Warm congratulations,<o:p></o:p></span></p>
<p class="MsoNormal"><span lang="EN-GB">Margarethe<o:p></o:p></span></p>
<p class="MsoNormal"><span lang="EN-GB"><o:p>&nbsp;</o:p></span></p>
<p class="MsoNormal"><b><span lang="EN-GB" style="font-size:9.0pt;color:#1F3864">Margarethe Olsson</span></b><span lang="EN-GB" style="font-size:9.0pt;color:#1F3864"><br>Associate Professor, Data Science and AI division<br>Department of Computer Science and Engineering<br>Chalmers University of Technology, SE-412 96 Göteborg<o:p></o:p></span></p>
<p class="MsoNormal"><span style="font-size:9.0pt"><img width="120" height="32" style="width:1.25in;height:.3333in" id="Bild_x0020_1" src="cid:image001.png@01DC8B2E.4A1F0C30" alt="Chalmers"></span><o:p></o:p></p>
</div>
</body>
</html>
"""), mid_style="outlook", extra=[("Thread-Topic", "Your ICLR paper"),
                                  ("Thread-Index", "AdyFmZ3q0Jx1c2VnTkqS8pXbE7yQ4w=="),
                                  ("Content-Language", "sv-SE")])

add("c-kjaergaard", "congratulation", "2026-01-09 21:17:44 +0100",
    f"{ew('Søren Kjærgaard', 'ISO-8859-1', 'Q')} <skjaergaard82@gmail.com>",
    "Tillykke, professor ;)",
    text_part("""\
Hej Kai

Jeg så dit navn på forsiden af Hacker News i går aftes, og i morges var linket delt i tre forskellige Slack-kanaler her på kontoret. Stort tillykke!

Det er ikke så mange år siden, vi sad hos Tracklight klokken to om natten og jagtede den Kafka-consumer, der tabte beskeder, og du sagde, at du en dag ville lave "rigtig forskning". Jeg troede ærligt talt, det var søvnmanglen, der talte. Godt, at jeg tog fejl.

Vi skal have en øl, når det hele har lagt sig lidt. Jeg giver.

Knus til Ida.

Mange hilsner
Søren
""", charset="ISO-8859-1", cte="8bit"), mid_style="gmail")

add("c-oyarzun", "congratulation", "2026-01-11 03:04:51 -0300",
    f"{ew('Tomás Oyarzún', 'UTF-8', 'Q')} <tomas.oyarzun.p@gmail.com>", None,
    text_part("""\
just finished your blog post at 3am and honestly I needed to read it tonight. thank you kai

Sent from my iPhone
""", charset="us-ascii"), mid_style="apple", extra=[("X-Mailer", "iPhone Mail (22D72)")])

add("c-raghunathan", "congratulation", "2026-01-23 16:40:05 +0530",
    "Priya Raghunathan <priya.raghunathan@smail.iitm.ac.in>", "your heatmap is on our wall now",
    multipart("mixed", [
        text_part("""\
Hi Kai,

Our reading group at IIT Madras spent last Friday on your paper. At the end somebody printed figure 4 (the saliency heatmap over the copy task, where the model lights up on exactly the tokens it memorised) on A3 and taped it up next to the coffee machine. It has survived a whole week, which is a first for anything stuck on that wall. Picture attached as proof :)

Congratulations on the spotlight, it is very well deserved.

Priya
PhD student, Wadhwani School of Data Science & AI, IIT Madras
"""),
        binary_part("image/png", "figure4_on_the_wall.png", tiny_png()),
    ], boundary_for("c-raghunathan", "gmail")), mid_style="gmail")

READING_GROUP = [
    "Joost Bakker <j.bakker@uva.nl>", "Sanne Visser <s.e.visser@uva.nl>",
    "Ruben Mulder <r.mulder@uva.nl>", "Eline Smit <eline.smit@student.uva.nl>",
    "Daan Meijer <d.meijer@uva.nl>", "Lotte de Boer <l.deboer@vu.nl>",
    "Thijs Hendriks <thijs.hendriks@gmail.com>", "Noor El Amrani <n.elamrani@uva.nl>",
    "Bram Dekker <b.dekker@cwi.nl>", "Iris van Dijk <i.vandijk@uva.nl>",
    "Wouter Jansen <w.jansen@uva.nl>",
]
add("c-devries", "congratulation", "2026-01-22 17:55:29 +0100",
    "Femke de Vries <f.devries@uva.nl>",
    "Congratulations from the Amsterdam interpretability reading group",
    text_part("""\
Dear Kai,

We spent this week's session of our reading group on your paper and ran forty minutes over, which has not happened since we read the original attention paper years ago. Everyone in Cc wanted their name on this email, so here it is: congratulations from all twelve of us.

Two of us (Thijs and Noor) tried the notebook from your repository on a GRU trained on Dutch parliamentary transcripts. It found memorised MP names, and a couple of entire motions almost verbatim, in exactly the layers you said it would. That was a nice moment.

No questions and nothing to reply to. Just thank you for a paper that was a pleasure to argue about.

Femke
on behalf of the reading group
Informatics Institute, University of Amsterdam
""", wrap="flowed"), to="kai@andersen.dk", cc=",\n    ".join(READING_GROUP), mid_style="uuid",
    extra=[("User-Agent", "Mozilla Thunderbird")])

add("c-volkov", "congratulation", "2026-01-17 22:31:12 +0700",
    "Dmitri Volkov <d.volkov.ml@yandex.ru>", "Big respect from Siberia",
    text_part("""\
Hello Kai!

I am software developer from Novosibirsk, 34 years old, and I follow your work since the article about memorization in RNN. I want just to say big respect for what you did.
From the first reading of your blog I understood that many things I thought are impossible without PhD are maybe possible, only very very hard. You wrote honestly about money and about the lonely times, this is rare. Usually people write only the success part.

The paper itself I read two times. Second time I run your code on a small LSTM from my hobby project (it generates folk melodies) and it was very interesting to see where the model is copying training melodies note by note. My friend who is musician was a little bit shocked :)

Congratulations with the spotlight, you deserve it more than many people with big labs behind them.

Best wishes from cold Siberia,
Dmitri
""", charset="utf-8", cte="8bit"), mid="<1745031768.91822@mail.yandex.ru>")

add("c-whitcombe", "congratulation", "2026-01-08 11:06:37 +0000",
    "Alistair Whitcombe <awhitcombe@turing.ac.uk>", "Nice work",
    text_part("""\
Kai,

Saw the spotlight. Clean paper, and the ablation in section 5 answered the question I was about to ask before I had finished writing it down. Well done.

A.

-- 
Alistair Whitcombe
Principal Research Fellow
The Alan Turing Institute, British Library, 96 Euston Road, London NW1 2DB
"""), mid_style="outlook")

add("c-oduya", "congratulation", "2026-01-27 23:48:02 +0000",
    "Grace Oduya <grace.oduya@outlook.com>", "thank you for writing that post",
    text_part("""\
Hi Kai,

I'm a data analyst in Manchester. Last autumn I was turned down by four PhD programmes in a row, and I had more or less decided that research was a door that had closed for people like me: no first-class degree, no famous referee, and a full-time job that pays my mum's rent as well as mine.

Then a colleague sent me your blog post. I'm not going to pretend it fixed anything, and I'm definitely not writing to add another question to your pile, I'm sure you're buried. I just wanted you to know that reading someone describe the money worries and the loneliness so plainly, and still come out the other side with a spotlight, made me feel a lot less silly for still wanting this.

So, thank you. And congratulations, truly.

Grace
"""), mid_style="outlook")

add("c-sato", "congratulation", "2026-02-03 10:15:40 +0900",
    "Haruki Sato <h.sato@is.s.u-tokyo.ac.jp>",
    f"Congratulations / {ew('おめでとうございます')}",
    text_part("""\
Andersen さん

はじめまして。東京大学情報理工学系研究科の佐藤と申します。
突然のご連絡失礼いたします。(Sorry, from here I continue in English.)

Congratulations on the ICLR spotlight. Our lab read your paper in the Thursday seminar and it started a long and good discussion about whether the same memorization signature appears in Japanese character-level models. One student has already reproduced Figure 2 with a small LSTM on Aozora Bunko texts, and the result looked very similar to yours.

I also read your blog about independent research. In Japan it is quite rare to go this way, so it was very interesting for me and, I think, brave.

I wish you continued success.

Best regards,
Haruki Sato
Assistant Professor
Graduate School of Information Science and Technology, The University of Tokyo
""", cte="base64"), mid_style="uuid")

add("c-mendes", "congratulation", "2026-02-12 19:20:33 -0300",
    "Rafael Mendes <rafael.mendes@inf.ufrgs.br>", "used your visualisations in class (with credit!)",
    text_part("""\
Hello Kai,

I teach the undergraduate NLP course at UFRGS in Porto Alegre. Last semester I threw out my old, rather dry lecture on what recurrent networks memorise and replaced it with a live demo of your interactive saliency figures. I have been teaching for eleven years and I do not remember another lecture where so many students stayed behind to keep clicking.

Thank you for putting the code out under the MIT licence, it made all of this very easy. The slides credit you and link to the paper and the repository, of course.

Congratulations on the ICLR spotlight. Um abraço from the south of Brazil,

Rafael Mendes
Professor Adjunto, Instituto de Informática - UFRGS
""", cte="quoted-printable"), mid_style="plain")

add("c-carrow", "congratulation", "2026-01-10 14:02:19 -0800",
    "Ben Carrow <ben@carrow.io>", "Re: your paper",
    text_part("""\
Kai!! congrats on the ICLR thing, my whole feed was you for two days straight.

you probably don't remember but you reviewed a truly terrible PR of mine on the tfjs node bindings back in 2018 and were way more patient about it than it deserved. glad to see the same person now doing proper research. well earned.

ben
"""), mid_style="apple", extra=[("X-Mailer", "Apple Mail (2.3826.400.131.1.6)")])

add("c-brandt", "congratulation", "2026-01-07 00:41:55 +0100",
    "Lukas Brandt <lukas@brandt.dev>", ew("🎉🎉🎉"),
    text_part("""\
ha, I knew those late-night commits to the d3 visualisation were going somewhere.

congrats man, seriously. and if the spotlight talk doesn't use the purple colour map we argued about for a week I'm going to be very disappointed.

-- 
Lukas
"""), mid_style="uuid", extra=[("User-Agent", "NeoMutt/20250510")])


# ===== advice_request (12) ===================================================

# Windows-1252 bytes (curly quotes, en dash, euro sign, ellipsis) under a us-ascii label.
add("a-bellandi", "advice_request", "2026-01-19 07:58:03 +0100",
    "Marco Bellandi <marco.bellandi@libero.it>", "How did you manage financially?",
    text_part("""\
Dear Mr Andersen,

I’m an engineer in Bologna, 29, working in industrial automation. I read your post twice – the part about living on savings hit very close to home, because I’ve been thinking about doing something similar for about a year.

Could I ask two very practical things?

1. Roughly how many months (and how many hours a week) went into the paper, from the first idea to the submission?
2. How did you actually pay rent and food during that time? Freelance work on the side, or savings only? Here in Italy I estimate I would need about €1.400 a month to get by, and I have maybe 14 months of that saved… which sounds like a lot until it isn’t.

I understand completely if you don’t have time to answer. Thank you anyway for being so open about the “boring” parts.

Kind regards,
Marco Bellandi
""", charset="us-ascii", codec="cp1252", cte="8bit"), mid_style="outlook",
    extra=[("X-Mailer", "Microsoft Outlook 16.0")])

add("a-nair", "advice_request", "2026-01-13 12:30:48 +0530",
    "Vikram Nair <vikramnair.dev@gmail.com>", "Quick question",
    text_part("""\
Hi Kai,

Two things I couldn't work out from the blog post:

- where did the GPUs come from? cloud credits, your own box, a friend's cluster?
- how did you decide this idea was worth most of a year? I have a notebook with ~40 ideas and no way of telling which ones are any good before I've sunk months into them.

Self-taught, backend dev in Bangalore, trying to get one decent paper out. Any pointers appreciated.

Thanks,
Vikram
"""), mid_style="gmail")

add("a-marchand", "advice_request", "2026-01-29 22:10:26 +0100",
    f"{ew('Chloé Marchand', 'UTF-8', 'Q')} <chloe.marchand@ens-lyon.fr>",
    "Should I accept a PhD offer? (long email, sorry)",
    text_part("""\
Dear Kai,

I hope you will forgive a long email from a stranger. I am finishing my master at ENS de Lyon and last week I received an offer for a funded PhD in Grenoble: three years, a real contract with a salary, a kind supervisor, a good lab. On paper it is everything I wanted. The problem is the topic. It is federated learning for the electricity grid, which is useful and serious but which does not excite me at all. What I really want to work on is interpretability, the kind of thing you do.

My family says to take it immediately, because funded positions are rare and I can "change topic later". My friends who are already doing a PhD say that changing topic later almost never happens. I must answer before 15 February.

You chose a very different road. If you were in my place, would you accept? Is it a mistake to start a PhD on a subject you are only lukewarm about?

And a less practical question: how did you keep believing you belonged in research when nobody was paying you to do it? Sometimes I look at the people in my promotion and I feel like I am only pretending.

Thank you for reading until here.

Chloé Marchand
""", wrap="flowed"), mid_style="uuid", extra=[("User-Agent", "Mozilla Thunderbird")])

add("a-kowalczyk", "advice_request", "2026-02-05 18:45:14 +0100",
    "Mateusz Kowalczyk <mateusz.kowalczyk@student.pw.edu.pl>",
    "Master's student - how to use the next 18 months?",
    text_part("""\
Hello Kai,

I'm in the first year of a master's in computer science at Warsaw University of Technology (AI specialisation). I have read your paper and the blog post, and I would like to end up doing the kind of work you do, ideally as a research engineer in a lab, and not necessarily through a PhD.

I have about 18 months of the degree left. What would you do with them in my position? Courses seem less important than I thought they would be. Should I rather fight for a thesis topic that could turn into a workshop paper?

Also about internships: is it better to aim for a big lab (I'm applying to a few, but without contacts my chances feel close to zero) or for a small startup where I would actually touch the models? And how does one get noticed by a big lab from Poland without knowing anybody there?

Best regards,
Mateusz Kowalczyk
"""), mid_style="plain")

add("a-haddad", "advice_request", "2026-02-09 09:12:57 +0200",
    "Nadia Haddad <nadia.haddad@hotmail.com>", "my research code is a mess, how did you learn?",
    text_part("""\
Hi Kai,

I did a PhD in condensed-matter physics and moved to ML two years ago. The maths is fine. The code is not. My current project is one Jupyter notebook with something like 900 cells, three copies of the same training loop and a variable called final_final_v2. Every time a reviewer asks for one more ablation it costs me a week.

Your repository is the opposite: small modules, tests, a README that actually tells me how to run things. How did you get good at this? Was it the startup years? Is there something concrete I could practise (reading a particular codebase, a book, contributing to open source), or is it just years of pain?

Sorry if this is a strange thing to ask a researcher. It feels like the part nobody teaches.

Nadia
"""), mid_style="outlook")

add("a-gallagher", "advice_request", "2026-01-21 13:37:09 +0000",
    "Owen Gallagher <owengallagher@protonmail.com>",
    "Research engineer roles without a PhD - realistic?",
    text_part("""\
Kai,

Short version: MSc in CS from Trinity College Dublin (2021), three years as a data engineer at a fintech, a couple of side projects on model compression, no publications. Over the last year I've applied for research engineer roles at DeepMind, FAIR, Microsoft Research and two smaller labs. Not one reply beyond the automated rejection.

I've read that a master's plus a publication wasn't enough for you at first either. So: is it realistic to get into one of these labs as an RE without a PhD? What actually moved the needle for you: the paper, the open-source work, people you knew? I'd rather hear a blunt 'no' than keep throwing applications into the void.

Thanks for your time,
Owen Gallagher
"""), mid="<Xk3w9PqT0bLr2mVn8sYcJ4uH1dEa6fGi@protonmail.com>")

add("a-alfarsi", "advice_request", "2026-02-17 01:22:40 +0400",
    "Ahmed Al-Farsi <a.alfarsi@squ.edu.om>", "advice please - my supervisor has disappeared",
    text_part("""\
Dear Kai,

I am second year PhD student at Sultan Qaboos University, working on sequence models for Arabic speech. My supervisor accepted a big administration role last year and since then he is practically gone. My last three emails he did not answer, and the last meeting we had was in October. Nobody else in the department works on anything close to my topic.

I am not writing to complain about him, he is a good person and very busy. But I don't know how to continue. You did your research without any supervisor at all. How did you know you are going in the right direction? Should I look for an external co-supervisor, and how do I even ask someone like that without looking unprofessional?

Honestly some days I think about stopping. Any advice will be very appreciated.

Best regards
Ahmed
"""), mid_style="outlook")

add("a-santos", "advice_request", "2026-02-20 15:03:31 +0000",
    "Julia Santos <julia.santos@tecnico.ulisboa.pt>", "How do you deal with reviewer 2?",
    text_part("""\
Hi Kai!

Congratulations on the spotlight first of all.

I'm a second-year PhD student in Lisbon. My first real paper was just rejected from ICLR (yes, the same conference, which makes it sting a little more) with scores 6, 4 and 2. The 2 says the work "lacks novelty" in a single sentence and explains nothing else. The other two reviews are actually helpful. I know this is normal, everybody keeps telling me it's normal, but I haven't been able to open the project folder for a week.

Did you get rejections before your ICLR paper was accepted? How did you decide what to take seriously from the reviews and what to ignore? And would you go straight for NeurIPS in May or take the time to rework things properly?

Obrigada,
Julia Santos
"""), mid_style="gmail")

add("a-krueger", "advice_request", "2026-03-02 20:26:18 +0100",
    f"{ew('Sebastian Krüger', 'UTF-8', 'Q')} <s.krueger@posteo.de>",
    "Going independent: collaborators, affiliation, arXiv",
    text_part("""\
Hello Kai,

I'm a software engineer in Leipzig and I've decided (my partner knows, my employer doesn't yet) to leave my job in July and spend a year doing research on my own. I have savings for that and a concrete project on length generalisation in linear RNNs. Money is sorted, that's not my question.

What I'm much less sure about is the practical side of being on your own:
- how did you find people to bounce ideas off, or to co-author with? did you cold-email researchers?
- what do you put in the affiliation field when you submit? "Independent researcher" looks a bit lonely
- did you need an endorsement for arXiv, and how did you get it?

If you think the whole plan is a bad idea, I'd like to hear that too.

Viele Grüße,
Sebastian
""", wrap="flowed"), mid_style="uuid", extra=[("User-Agent", "Mozilla Thunderbird")])

add("a-hossain", "advice_request", "2026-02-24 02:54:06 +0600",
    "Tariq Hossain <tariq.hossain1994@yahoo.com>", "Hello",
    text_part("""\
Hello sir,

I am from Dhaka. Since two years I am learning machine learning by myself in the night, after my job in a garments export company. I have done many online courses and reproduced some papers on my laptop. But everybody around me is telling I am wasting my time, without a degree from abroad nobody will take me serious. Some days I believe them.

I read your story and I cried little bit, I am not ashamed to say it. Did you also feel this way sometime? Is it foolish to continue? Please, any words from you will help me a lot.

Thank you,
Tariq
"""), mid="<1771880046.4417203.1302@mail.yahoo.com>")

add("a-zhang", "advice_request", "2026-01-16 21:05:22 +0800",
    f"{ew('张雨晴')} <zhangyuqing_ml@163.com>",
    f"{ew('请教')}: compute and time behind your ICLR paper",
    text_part("""\
Dear Kai,

您好! I am Zhang Yuqing, a second year master student at Wuhan University. I am very interested in your paper about memorization in RNN and I am trying to do some similar experiments for my thesis.

I want to ask: how many GPU hours did the experiments in the paper need in total, and which kind of GPU did you use? In our lab we have 2 RTX 3090 shared by 12 students, so I must plan very carefully. And how long time did the whole project take, from the idea to the submission?

One more question if it is ok: what should I do in my master period to prepare for a research job later? My supervisor mainly does applied projects with companies.

Thank you very much and congratulations for the spotlight!

Best wishes,
Zhang Yuqing (张雨晴)
""", charset="UTF-8", cte="8bit"), mid="<3f0a9c1e.7b21.19bc6d2e4f1.Coremail.zhangyuqing_ml@163.com>",
    extra=[("X-Mailer", "Coremail Webmail Server Version 2023.4-cmXT build 20250915")])

add("a-yildiz", "advice_request", "2026-03-11 06:14:33 +0100",
    "Emre Yildiz <emre.yildiz@outlook.com>", "hours per day?",
    text_part("""\
how many hours a day were you actually working on the paper? trying to figure out if this is doable next to a full time job and a 2 year old

Get Outlook for Android
"""), mid_style="outlook")


# ===== phd_offer (7) =========================================================

add("p-brunner", "phd_offer", "2026-01-20 17:25:03 +0100",
    "Annika Brunner <annika.brunner@inf.ethz.ch>", "Doctoral position in my group at ETH",
    text_part("""\
Dear Kai,

My name is Annika Brunner; I lead the Trustworthy Sequence Learning group at the Department of Computer Science at ETH Zürich. Your ICLR paper came up in three separate conversations in my group last week, which is usually a sign that I should write to the author.

I would like to offer you a doctoral position in my group. It would be fully funded from my SNSF grant, with the standard ETH doctoral salary (a little over CHF 50,000 in the first year, rising each year), starting any time between September and December 2026. The research direction would be close to what you are already doing – memorisation and attribution in recurrent and state-space models – with a lot of freedom to shape the thesis yourself.

I am aware that you have built a path outside academia and may not want a PhD at all; I would completely understand that. If you are curious, though, I suggest a video call so that I can explain how the group works and you can ask me anything. After that, the formal ETH admission step would largely be a formality.

Could you let me know by 20 February whether you would like to talk? I am also in Copenhagen for a committee meeting on 5 February, if an in-person coffee is easier.

With best regards,
Annika Brunner

--
Prof. Dr. Annika Brunner
Department of Computer Science, ETH Zürich
CAB F 63.2, Universitätstrasse 6, 8092 Zürich, Switzerland
""", cte="quoted-printable"), mid_style="plain")

add("p-weiss", "phd_offer", "2026-01-26 09:03:47 +0100",
    f"{ew('Jürgen Weiß', 'ISO-8859-1', 'Q')} <juergen.weiss@tum.de>",
    ew("Promotionsstelle in München / PhD position", "ISO-8859-1", "Q"),
    text_part("""\
Dear Mr Andersen,

congratulations on your ICLR paper, which I have read with great interest.

I have an open position for a doctoral researcher (TV-L E13, 100 %, initially 3 years) at my chair at the Technical University of Munich, funded by a DFG project on interpretable sequence models. Given your paper and your software experience I think you would be an excellent fit, and I would be glad to offer you this position. A Master's degree is sufficient for admission to the TUM doctoral programme.

If you are interested, please send me your CV and your transcripts. We could then arrange a video call in February. The position should be filled by 1 May 2026 at the latest.

Mit freundlichen Grüßen
Jürgen Weiß

Prof. Dr. Jürgen Weiß
Lehrstuhl für Maschinelles Lernen und Sequenzmodelle
TUM School of Computation, Information and Technology
Boltzmannstraße 3, 85748 Garching bei München
""", charset="ISO-8859-1", cte="quoted-printable"), mid_style="plain")

add("p-frandsen", "phd_offer", "2026-02-10 14:48:20 +0100",
    "Mette Frandsen <mtfr@novonordisk.com>",
    "Industrial PhD with us? Sequence models for protein data",
    text_part("""\
Dear Kai,

First, congratulations on the ICLR spotlight - it has been making the rounds in our team all week.

I manage a small machine learning group in Digital Science & Innovation at Novo Nordisk. We have been granted an Industrial PhD project through Innovation Fund Denmark, and after reading your paper we think you would be an unusually good candidate for it. The project asks what large sequence models trained on protein data actually memorise from their training sets, and whether that memorisation can be detected and controlled. In other words, very close to your own work, only with amino acids instead of words.

In practice you would be employed by Novo Nordisk on a normal salary for the three years, enrolled at DTU Compute with Professor Henrik Østergaard as academic supervisor, and split your time between our site and DTU in Lyngby. The start date is flexible, but the application to the Innovation Fund has to be submitted by 15 April, so we would need to agree on the main points during March.

Would you be open to a meeting in week 9 or 10? In person with us, or online if you prefer.

Kind regards,
Mette

Mette Thorsøe Frandsen, PhD
Senior Manager, Machine Learning for Molecular Design
Digital Science & Innovation

Novo Nordisk A/S
Novo Nordisk Park 1
2760 Måløv
Denmark

Office: +45 4442 1873
Mobile: +45 3079 5512
mtfr@novonordisk.com
www.novonordisk.com

Novo Nordisk A/S - registered in Denmark - Novo Allé 1, 2880 Bagsværd

CONFIDENTIALITY NOTICE: This e-mail, including any attachment, is meant only for the person or organisation it is addressed to and may contain information that is confidential, commercially sensitive or otherwise protected from disclosure. If it has reached you by mistake, please tell the sender by replying, then delete the message and every copy of it from your systems; do not copy, forward, disclose or otherwise use any part of it. E-mail is not a secure means of communication, and Novo Nordisk accepts no liability for any loss or damage caused by its interception, alteration, delay or by any virus it may carry. Nothing in this message creates a binding commitment unless confirmed in writing by an authorised signatory.

Please consider the environment before printing this e-mail.
"""), mid_style="outlook", extra=[("Content-Language", "en-US")])

add("p-baltic", "phd_offer", "2026-02-19 08:00:00 +0200",
    "Doctoral School of Applied AI <doctoral.school@bit-riga.lv>",
    "Invitation: 24 fully funded PhD positions in AI (deadline 15 April 2026)",
    text_part("""\
Dear Kai Andersen,

In recognition of your recent publication at ICLR 2026, the Doctoral School of Applied Artificial Intelligence at the Baltic Institute of Technology is pleased to invite you to apply for one of 24 fully funded PhD positions starting in September 2026.

What we offer:
* a four-year employment contract with a monthly salary of EUR 2,150 (gross)
* full tuition waiver
* a travel budget of EUR 3,000 per year for conferences and summer schools
* supervision by internationally recognised faculty
* a vibrant, English-speaking research environment in the heart of Riga

Research areas include, among others: trustworthy AI, computer vision for manufacturing, natural language processing for low-resource languages, reinforcement learning, AI for climate and energy, and explainable machine learning.

Candidates must hold a Master's degree (or equivalent) in computer science, mathematics, physics or a related field and demonstrate proficiency in English. Applications are submitted through our online portal and must include a CV, a motivation letter, two reference letters and a two-page research proposal.

Application portal: https://apply.bit-riga.lv/phd2026
Deadline: 15 April 2026, 23:59 (EET)

We look forward to receiving your application.

Sincerely,
Admissions Office
Doctoral School of Applied Artificial Intelligence
Baltic Institute of Technology

You received this message because your contact details appear in a public research publication. To stop receiving invitations, reply with UNSUBSCRIBE.
"""), mid_style="plain", return_path="bounces+2231@mailer.bit-riga.lv")

add("p-macleod", "phd_offer", "2026-01-15 16:33:58 +0000",
    "Fiona MacLeod <fiona.macleod@ed.ac.uk>", "Congratulations - and a question",
    text_part("""\
Hi Kai,

Huge congratulations on the spotlight. I've used your earlier interactive article on RNN memorisation in my teaching for a couple of years, so it was a real pleasure to see the full story come together in the ICLR paper. And the blog post should be required reading for every first-year student who thinks research is a straight line.

Now the question. I have a fully funded PhD studentship to fill in my group at the School of Informatics, starting September 2026: four years, UKRI stipend plus fees, and the school covers the international fee difference. I would very much like it to be you. You would be free to carry on with the memorisation work; frankly, I'd mostly try to stay out of your way and help with the parts of academia that are opaque from the outside.

If you're interested, shall we have a call before the end of January? If not, no hard feelings at all, and congratulations again.

Best,
Fiona

Dr Fiona MacLeod
Reader in Natural Language Processing
School of Informatics, University of Edinburgh

The University of Edinburgh is a charitable body, registered in Scotland, with registration number SC005336.
"""), mid_style="outlook")

add("p-gagnon", "phd_offer", "2026-01-12 20:47:15 -0500",
    "Etienne Gagnon <etienne.gagnon@mila.quebec>", "PhD?",
    text_part("""\
Kai,

If you ever want to do a PhD, I'd take you in my group at Mila / Université de Montréal. Funding is covered for the whole program and you could start in September or January. No application theatre: a call with me and one of my students, that's it.

Think about it.

Etienne

--
Etienne Gagnon
Associate Professor, DIRO, Université de Montréal
Core Academic Member, Mila
"""), mid_style="gmail")

add("p-holm", "phd_offer", "2026-02-26 10:20:41 +0100",
    "Kristoffer Holm <kholm@di.ku.dk>", "PhD fellowship at DIKU - coffee?",
    text_part("""\
Hi Kai,

We met briefly at the Copenhagen NLP meetup at ITU in the autumn of 2024: you gave the lightning talk with the animated heatmaps, and I was the one asking annoying questions about baselines. I'm not sure you'll remember.

I now have a three-year PhD fellowship to fill at DIKU, funded by a Villum Foundation grant. Salary and pension follow the standard agreement for PhD fellows, so you would be properly employed rather than living on savings, which, having read your blog, might be a welcome change. Start 1 September 2026 or later.

I would like to offer it to you. The topic is open within interpretability of sequence models; your current line of work would fit perfectly.

Would you have time for a coffee at Universitetsparken next week? Tuesday or Thursday afternoon both work for me.

Kristoffer

Kristoffer Holm
Associate Professor, Department of Computer Science (DIKU)
University of Copenhagen
"""), mid_style="outlook")


# ===== job_lead (8) ==========================================================

add("j-mehta", "job_lead", "2026-01-30 18:12:26 +0000",
    "Rohan Mehta <rohanmehta@google.com>",
    "Referred you for the RE role on our interpretability team",
    text_part("""\
Hi Kai,

Rohan here. We spoke for a few minutes at your workshop poster at NeurIPS 2024; I'm the one who asked whether the saliency trick would survive a switch to state-space models. Your ICLR paper answered that nicely.

I'm a senior staff research engineer at Google DeepMind in London, on the interpretability team, and we have an open Research Engineer position. I submitted an internal referral for you this morning and spoke with the hiring manager, who has read the paper and is keen. HR will contact you within two weeks to schedule a first conversation. If you haven't heard anything by 16 February, email me directly and I'll chase it; things do occasionally get lost in the pipeline.

One tip: make sure your CV names memtrace and links the repo. The engineering side of your work is a big part of why I think you'd fit.

Best,
Rohan

--
Rohan Mehta
Senior Staff Research Engineer, Google DeepMind
London
"""), mid_style="gmail")

add("j-ashworth", "job_lead", "2026-02-23 11:30:09 +0000",
    "Helen Ashworth <helen.ashworth@microsoft.com>",
    "Research Residency 2026 - your application has been approved",
    multipart("mixed", [
        text_part("""\
Dear Kai,

I'm delighted to let you know that the selection committee has approved your application for the 2026 Research Residency at Microsoft Research Cambridge.

The residency is a 12-month, fully paid position starting on 1 June 2026, based at our lab in Cambridge (UK). You would be hosted by the Deep Learning group, working with Dr Tobias Reinholt and Dr Amara Eze on the interpretability of sequence models, which the committee saw as a natural continuation of your ICLR work.

A one-page summary of the terms is attached. The formal offer letter, including salary and relocation support, will be sent by our recruiting team within ten working days. In the meantime, could you reply by 6 March to confirm that you are still interested, so that we can start the visa assessment?

Congratulations - the committee was unanimous.

Best regards,
Helen Ashworth
Residency Programme Manager
Microsoft Research Cambridge
21 Station Road, Cambridge CB1 2FB, United Kingdom
""", cte="quoted-printable"),
        binary_part("application/pdf", "Residency_2026_summary_of_terms.pdf", tiny_pdf([
            "Microsoft Research Cambridge - Research Residency 2026",
            "Summary of terms (this is not the offer letter)",
            "",
            "Candidate: Kai Andersen",
            "Start date: 1 June 2026",
            "Duration: 12 months, full time, paid",
            "Location: Cambridge, United Kingdom",
            "Hosts: Dr Tobias Reinholt, Dr Amara Eze (Deep Learning group)",
            "Topic: interpretability of sequence models",
            "",
            "Please confirm your interest by 6 March 2026.",
            "The formal offer letter follows from Recruiting within ten working days.",
        ])),
    ], boundary_for("j-ashworth", "outlook")), mid_style="outlook",
    extra=[("Thread-Topic", "Research Residency 2026 - your application has been approved"),
           ("Content-Language", "en-GB")])

HF_FIRST = "<CAHfR0u2sW9=kq1Lm7xPz+Yt4bN8vQeJc3dGh5Ui0oA6rTy@mail.gmail.com>"
KAI_REPLY = "<5f3c1d2e-8a47-4b9e-b1f0-2c7e9d4a6b13@app.fastmail.com>"
add("j-roux", "job_lead", "2026-02-27 15:02:44 +0100",
    "Matthieu Roux <matthieu.roux@huggingface.co>",
    "Re: Research engineer, interpretability tooling",
    text_part("""\
Hi Kai,

Great, thanks for the quick reply! Could we do a call on Tuesday 3 March at 14:00 CET? It would be 45 minutes with me and Aurélie, who leads the tooling side. Mostly a conversation about memtrace and what you would want to build next, no whiteboard puzzles.

If that slot doesn't work, Wednesday 4 March any time after 10:00 is also fine. I'll send a calendar invite with a video link as soon as you confirm.

Matthieu

On Fri, 27 Feb 2026 at 10:12, Kai Andersen <kai@andersen.dk> wrote:
> Hi Matthieu,
>
> Thanks a lot for reaching out, that sounds genuinely interesting and I'd
> be happy to talk. Most days next week work for me, just not Monday.
>
> Best,
> Kai
>
> On Thu, 26 Feb 2026 at 18:40, Matthieu Roux <matthieu.roux@huggingface.co> wrote:
>> Hi Kai,
>>
>> I lead the interpretability tooling effort at Hugging Face. We're hiring
>> a research engineer to build open tools for inspecting what models
>> memorise, and memtrace is pretty much what we'd like to have inside the
>> ecosystem. Remote anywhere in Europe is fine.
>>
>> Would you be open to a chat?
>>
>> Matthieu
"""), mid_style="gmail", in_reply_to=KAI_REPLY, references=f"{HF_FIRST}\n {KAI_REPLY}")

add("j-hoffmann", "job_lead", "2026-02-13 10:05:37 +0100",
    '"Lena Hoffmann via Ashby" <no-reply@ashbyhq.com>',
    "Aleph Alpha - Research Engineer, Explainability (Heidelberg or remote)",
    text_part("""\
Hi Kai,

I'm a technical recruiter at Aleph Alpha in Heidelberg. Our explainability team read your ICLR paper in their journal club and asked me to get in touch.

We're hiring a Research Engineer to work on attribution methods for our production language models: building the tooling, running large-scale experiments, and publishing when the results are good. The role is open to candidates without a PhD; the team cares far more about the kind of engineering you've shown in memtrace.

- Location: Heidelberg, or remote within the EU with a team week every month
- Compensation: competitive salary plus virtual shares
- Process: 30-minute intro with me, a technical conversation with the team lead, a take-home or a paper discussion (your choice), final round on site

Interested in a quick intro call? Just reply to this email (it comes straight to me) or pick a time here: https://calendly.com/lena-hoffmann-aa/intro

Best,
Lena Hoffmann
Technical Recruiter, Aleph Alpha

--
Sent with Ashby
"""), reply_to="Lena Hoffmann <lena.hoffmann@aleph-alpha.com>", mid_style="plain",
    return_path="bounces+8841-kai=andersen.dk@em.ashbyhq.com")

APEX_TEXT = """\
Hi Kai,

Hope you're well! I came across your impressive profile and thought you might be open to hearing about an exciting opportunity.

My client, a fast-growing Series C fintech headquartered in London, is looking for a Senior Machine Learning Engineer to join their Risk & Fraud AI squad.

The role:
- Build and deploy LLM-powered fraud detection pipelines (RAG, fine-tuning, evals)
- Own ML infrastructure on AWS / Kubernetes
- Work closely with product and compliance stakeholders

Package: GBP 110,000 - 130,000 base + 20% bonus + equity, hybrid (3 days a week in the Shoreditch office)

Would you be open to a quick 10-minute chat this week? If it's not for you, I'd be grateful for any referrals - we pay a GBP 1,000 referral bonus for successful placements!

Kind regards,
James Whitfield
Principal Consultant - AI & Data
Apex Talent Partners
"""
APEX_HTML = """\
<!DOCTYPE html><html><head><meta charset="utf-8"></head>
<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222">
<p>Hi Kai,</p>
<p>Hope you're well! I came across your impressive profile and thought you might be open to hearing about an <b>exciting opportunity</b>.</p>
<p>My client, a fast-growing Series C fintech headquartered in London, is looking for a <b>Senior Machine Learning Engineer</b> to join their Risk &amp; Fraud AI squad.</p>
<p><u>The role:</u></p>
<ul><li>Build and deploy LLM-powered fraud detection pipelines (RAG, fine-tuning, evals)</li><li>Own ML infrastructure on AWS / Kubernetes</li><li>Work closely with product and compliance stakeholders</li></ul>
<p><b>Package:</b> &pound;110,000 &ndash; &pound;130,000 base + 20% bonus + equity, hybrid (3 days a week in the Shoreditch office)</p>
<p>Would you be open to a quick 10-minute chat this week? If it's not for you, I'd be grateful for any referrals &ndash; we pay a &pound;1,000 referral bonus for successful placements!</p>
<p>Kind regards,<br><b>James Whitfield</b><br>Principal Consultant &ndash; AI &amp; Data<br>Apex Talent Partners</p>
<table cellpadding="0" cellspacing="0"><tr><td><img src="https://www.apextalentpartners.co.uk/email/logo.png" width="140" alt="Apex Talent Partners"></td></tr></table>
<img src="https://t.apextalentpartners.co.uk/o/7f3a91c2e0.gif" width="1" height="1" alt="">
</body></html>
"""
add("j-whitfield", "job_lead", "2026-02-02 09:00:12 +0000",
    "James Whitfield | Apex Talent Partners <james.whitfield@apextalentpartners.co.uk>",
    "Senior ML Engineer - London fintech - GBP 120k + bonus",
    multipart("alternative", [text_part(APEX_TEXT), html_part(APEX_HTML)],
              boundary_for("j-whitfield")), mid_style="plain",
    extra=[("X-Mailer", "Apex Outreach 4.2")])

add("j-nwosu", "job_lead", "2026-03-05 16:20:50 +0100",
    "Priscilla Nwosu <priscilla@clearbox-audit.ai>",
    "Paid contract: memorisation audit of a speech model (6 weeks)",
    text_part("""\
Hello Kai,

I run Clearbox, a four-person company in Berlin that audits models for European companies getting ready for the AI Act. One of our clients, a mid-sized vendor of call-centre software, needs to know whether their speech-recognition model has memorised fragments of the customer calls it was trained on. Your method is the most credible approach we've found, and frankly we would rather pay the person who invented it than improvise.

What we have in mind:
- a 6-week contract, remote, around 3 days a week
- EUR 750 per day, invoiced monthly
- starting in the second half of March
- you'd work with our ML lead on adapting your saliency method to a Conformer model, then help write the audit report (your name on it if you want)

Would you be free for a 30-minute call this week or next to see whether it's a fit? I can send the NDA and a short scope document beforehand.

Best regards,
Priscilla Nwosu
Founder & CEO, Clearbox Audit GmbH
Torstraße 107, 10119 Berlin
"""), mid_style="apple", extra=[("X-Mailer", "Apple Mail (2.3826.400.131.1.6)")])

add("j-kim", "job_lead", "2026-03-09 12:44:08 -0800",
    "Sarah Kim <sarahk@allenai.org>", "RE opening on OLMo",
    text_part("""\
Kai - we have a research engineer opening on the OLMo team, focused on training-data attribution and memorization. Your name has come up twice this week. If you're interested I can take you straight to the panel stage; we could do it the week of March 23. Reply and I'll set it up.

Sarah Kim
Lead Research Engineer, Ai2 (Allen Institute for AI), Seattle
"""), mid_style="gmail")

add("j-okafor", "job_lead", "2026-02-16 08:30:27 +0100",
    "Daniel Okafor <daniel.okafor@sony.com>",
    "Research internship in Zurich this summer (open to non-students)",
    text_part("""\
Dear Kai,

I'm a research scientist at Sony AI in Zurich. We run a small summer research internship programme and, unlike most, it is open to people who are not currently enrolled at a university. After reading your paper I would very much like you to apply; more precisely, I'd like to put you forward directly, which I'm allowed to do for two candidates each year.

The details: 12 weeks between June and September, paid (the monthly stipend is around CHF 6,500), help with accommodation, and the explicit goal of a paper at the end. The project would be on memorisation and privacy in sequence models for audio, so much of your toolkit carries over.

If you're interested, please send me your CV by 27 February. Interviews are in early March: two online rounds of about an hour each.

Best regards,
Daniel Okafor
Research Scientist, Sony AI
Zurich, Switzerland
"""), mid_style="outlook")


# ===== other (9) =============================================================

NEWSLETTER_TEXT = """\
THE SALIENCY MAP - issue #87
A weekly letter on interpretability research. View in browser: https://thesaliencymap.news/87

1. Memorisation, located
Kai Andersen's ICLR spotlight paper traces what recurrent models memorise back to individual training sequences, using gradient saliency. Our favourite detail: a whole section on where the method fails. The accompanying blog post about doing the work without a salary has been everywhere this month.
https://thesaliencymap.news/r/87-1

2. A new benchmark for sparse autoencoders
A group from three European labs released a benchmark that scores SAE features on how well they predict downstream edits. Early leaderboard results suggest that bigger dictionaries are not always better.
https://thesaliencymap.news/r/87-2

3. Talk of the week
"Probing is not enough": an hour-long talk on causal tests for linear probes. Dense but worth it.
https://thesaliencymap.news/r/87-3

4. Deadlines
Three PhD programmes with interpretability groups have spring deadlines: Saarland (1 March), Tübingen (15 March) and a new doctoral track in Oslo (31 March). Links in the web version.

That's all for this week. Reply to this email to tell us what we missed.

--
You are receiving this because you subscribed at thesaliencymap.news.
Unsubscribe: https://thesaliencymap.news/unsubscribe?u=8f2c1a&e=kai%40andersen.dk
The Saliency Map, Nørrebrogade 52, 2200 Copenhagen N, Denmark
"""
NEWSLETTER_HTML = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>The Saliency Map #87</title>
<style>body{margin:0;background:#f4f1ec}.wrap{max-width:600px;margin:0 auto;background:#fff;padding:24px;font-family:Georgia,serif}h2{font-size:18px;margin:24px 0 6px}a{color:#8a2be2}.foot{font-size:11px;color:#777}</style>
</head><body><div class="wrap">
<div style="display:none;max-height:0;overflow:hidden">Memorisation, located - plus a new SAE benchmark and spring PhD deadlines</div>
<h1 style="font-size:24px">The Saliency Map <span style="color:#999">#87</span></h1>
<h2>1. Memorisation, located</h2>
<p>Kai Andersen's ICLR spotlight paper traces what recurrent models memorise back to individual training sequences, using gradient saliency. Our favourite detail: a whole section on where the method fails. The accompanying blog post about doing the work without a salary has been everywhere this month. <a href="https://thesaliencymap.news/r/87-1">Read more&nbsp;&rarr;</a></p>
<h2>2. A new benchmark for sparse autoencoders</h2>
<p>A group from three European labs released a benchmark that scores SAE features on how well they predict downstream edits. Early leaderboard results suggest that bigger dictionaries are not always better. <a href="https://thesaliencymap.news/r/87-2">Read more&nbsp;&rarr;</a></p>
<h2>3. Talk of the week</h2>
<p>&ldquo;Probing is not enough&rdquo;: an hour-long talk on causal tests for linear probes. Dense but worth it. <a href="https://thesaliencymap.news/r/87-3">Watch&nbsp;&rarr;</a></p>
<h2>4. Deadlines</h2>
<p>Three PhD programmes with interpretability groups have spring deadlines: <a href="https://thesaliencymap.news/r/87-4a">Saarland</a> (1 March), <a href="https://thesaliencymap.news/r/87-4b">T&uuml;bingen</a> (15 March) and a <a href="https://thesaliencymap.news/r/87-4c">new doctoral track in Oslo</a> (31 March).</p>
<p>That's all for this week. Reply to this email to tell us what we missed.</p>
<p class="foot">You are receiving this because you subscribed at thesaliencymap.news.<br>
<a href="https://thesaliencymap.news/unsubscribe?u=8f2c1a&amp;e=kai%40andersen.dk">Unsubscribe</a> &middot; The Saliency Map, N&oslash;rrebrogade 52, 2200 Copenhagen N, Denmark</p>
<img src="https://thesaliencymap.news/o/87/8f2c1a.gif" width="1" height="1" alt="">
</div></body></html>
"""
add("o-newsletter", "other", "2026-01-24 07:00:00 +0000",
    "The Saliency Map <hello@thesaliencymap.news>",
    "The Saliency Map #87: memorisation located, an SAE benchmark, spring PhD deadlines",
    multipart("alternative", [text_part(NEWSLETTER_TEXT, cte="quoted-printable"),
                              html_part(NEWSLETTER_HTML)],
              boundary_for("o-newsletter")),
    to="kai@andersen.dk", mid_style="plain", return_path="bounce-87-8f2c1a@mail.thesaliencymap.news",
    extra=[("List-Id", "The Saliency Map <weekly.thesaliencymap.news>"),
           ("List-Unsubscribe", "<https://thesaliencymap.news/unsubscribe?u=8f2c1a&e=kai%40andersen.dk>,\n"
                                " <mailto:unsubscribe@thesaliencymap.news?subject=unsubscribe>"),
           ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
           ("Precedence", "bulk"),
           ("X-Campaign-Id", "tsm-87")])

GH_TEXT = """\
jaewon-park left a comment (kaiandersen/memtrace#58)

Narrowed it down a bit: the NaNs only show up when the checkpoint is loaded in bfloat16. In float32 everything past layer 12 looks sane. I suspect the cumulative product in `_scan_saliency` underflows. Happy to open a PR that upcasts just that step, if you think that's the right fix.

-- 
Reply to this email directly, view it on GitHub:
https://github.com/kaiandersen/memtrace/issues/58#issuecomment-3912384471
You are receiving this because you authored the thread.

Message ID: <kaiandersen/memtrace/issues/58/3912384471@github.com>
"""
GH_HTML = """\
<p></p>
<div class="comment-body markdown-body"><p dir="auto"><strong>jaewon-park</strong> left a comment <a href="https://github.com/kaiandersen/memtrace/issues/58#issuecomment-3912384471">(kaiandersen/memtrace#58)</a></p>
<p dir="auto">Narrowed it down a bit: the NaNs only show up when the checkpoint is loaded in bfloat16. In float32 everything past layer 12 looks sane. I suspect the cumulative product in <code class="notranslate">_scan_saliency</code> underflows. Happy to open a PR that upcasts just that step, if you think that's the right fix.</p></div>
<p style="font-size:small;-webkit-text-size-adjust:none;color:#666;">&mdash;<br />Reply to this email directly, <a href="https://github.com/kaiandersen/memtrace/issues/58#issuecomment-3912384471">view it on GitHub</a>, or <a href="https://github.com/notifications/unsubscribe-auth/AB7KQ2XW5T3LM4ZNJ6Y7F3D3KQVR2AVCNFSM6AAAAAB">unsubscribe</a>.<br />You are receiving this because you authored the thread.<img src="https://github.com/notifications/beacon/AB7KQ2RJ4FZ6Q.gif" height="1" width="1" alt="" /></p>
"""
add("o-github", "other", "2026-02-07 05:09:31 -0800",
    "Jae-won Park <notifications@github.com>",
    "Re: [kaiandersen/memtrace] NaN saliency scores on Mamba checkpoints past layer 12 (Issue #58)",
    multipart("alternative", [text_part(GH_TEXT, cte="7bit", wrap=None), html_part(GH_HTML, cte="7bit")],
              "--==_mimepart_67a5f3d2c41e8_1f3b10c81948"),
    to="kaiandersen/memtrace <memtrace@noreply.github.com>",
    cc="Author <author@noreply.github.com>",
    mid="<kaiandersen/memtrace/issues/58/3912384471@github.com>",
    in_reply_to="<kaiandersen/memtrace/issues/58@github.com>",
    references="<kaiandersen/memtrace/issues/58@github.com>",
    reply_to="kaiandersen/memtrace <reply+AB7KQ2TPZQ5YVJ3WMLX4FQ6D3KQVR2AVCNFSM6AAAAAB@reply.github.com>",
    return_path="noreply@github.com",
    extra=[("List-ID", "kaiandersen/memtrace <memtrace.kaiandersen.github.com>"),
           ("List-Archive", "https://github.com/kaiandersen/memtrace"),
           ("List-Unsubscribe", "<mailto:unsub+AB7KQ2TPZQ5YVJ3WMLX4FQ6D3KQVR2AVCNFSM6AAAAAB@reply.github.com>,\n"
                                " <https://github.com/notifications/unsubscribe/AB7KQ2XW5T3LM4ZNJ6Y7F3D3KQVR2AVCNFSM6AAAAAB>"),
           ("X-GitHub-Sender", "jaewon-park"),
           ("X-GitHub-Recipient", "kaiandersen"),
           ("X-GitHub-Reason", "author"),
           ("X-Auto-Response-Suppress", "All"),
           ("Precedence", "list")])

add("o-cfp", "other", "2026-02-11 06:00:00 -0500",
    "MIST 2026 Organizers <mist-workshop-2026@googlegroups.com>",
    "[CFP] MIST @ ICML 2026: Memorization, Interpretability and Sequence models - deadline 8 May",
    text_part("""\
Apologies for cross-posting. Please forward to interested colleagues.

=====================================================================
CALL FOR PAPERS
MIST 2026: Workshop on Memorization, Interpretability and Sequence models
at ICML 2026, Seoul, South Korea (July 2026, exact day TBA)
=====================================================================

Large sequence models memorise parts of their training data, sometimes usefully and sometimes harmfully. MIST brings together researchers working on detecting, measuring, explaining and controlling memorisation in language, speech, code and biological sequence models.

Topics include, but are not limited to:
  * methods for detecting verbatim and approximate memorisation
  * attribution of model behaviour to training examples
  * saliency, probing and circuit-level analyses of recall
  * memorisation in recurrent, state-space and hybrid architectures
  * privacy, copyright and data-governance implications
  * evaluation protocols and benchmarks

Important dates (all Anywhere on Earth):
  Submission deadline:     8 May 2026
  Author notification:     5 June 2026
  Camera-ready:           26 June 2026

Submission: 4-page extended abstracts or 8-page full papers (references and appendix unlimited), ICML style, double-blind, via OpenReview. Non-archival, so work under review elsewhere is welcome.

Organisers:
  Leila Haddou (INRIA), Marcus Oyelaran (University of Toronto),
  Ji-hoon Seo (KAIST), Annelise Kramer (Apple)

Website: https://mist-workshop.github.io
Contact: mist-workshop-2026@googlegroups.com

--
You received this message because you are subscribed to the Google Groups "ML interpretability announcements" group.
To unsubscribe from this group and stop receiving emails from it, send an email to mlinterp-announce+unsubscribe@googlegroups.com.
""", wrap=None), to="ML interpretability announcements <mlinterp-announce@googlegroups.com>",
    mid_style="gmail", return_path="mlinterp-announce+bncBDX7JH4VWEMRB2OZ4@googlegroups.com",
    extra=[("List-ID", "<mlinterp-announce.googlegroups.com>"),
           ("List-Unsubscribe", "<mailto:googlegroups-manage+118302667190+unsubscribe@googlegroups.com>,\n"
                                " <https://groups.google.com/unsubscribe/mlinterp-announce>"),
           ("Mailing-list", "list mlinterp-announce@googlegroups.com; contact mlinterp-announce+owners@googlegroups.com"),
           ("Precedence", "list")])

add("o-tmlr", "other", "2026-03-03 14:00:07 +0000",
    "OpenReview <noreply@openreview.net>", "[TMLR] Invitation to review submission 6412",
    text_part("""\
Dear Kai Andersen,

You have been invited by Action Editor Marguerite Delacroix to review the following submission to Transactions on Machine Learning Research (TMLR):

Submission 6412: Probing Verbatim Recall in Linear Recurrent Networks

Abstract: We study how linear recurrent networks store and retrieve long verbatim spans seen during training. Using a family of synthetic copy tasks and two natural-language corpora, we show that recall is concentrated in a small number of state dimensions and can be predicted from the spectrum of the recurrence early in training.

If you accept, your review will be due two weeks after you accept the invitation. Please respond within five days.

To accept the invitation, please follow this link:
https://openreview.net/invitation?id=TMLR/Paper6412/Reviewers/-/Recruitment&user=~Kai_Andersen1&key=9b1e3c7a&response=Yes

To decline the invitation, please follow this link:
https://openreview.net/invitation?id=TMLR/Paper6412/Reviewers/-/Recruitment&user=~Kai_Andersen1&key=9b1e3c7a&response=No

If you have a conflict of interest with this submission, please decline and let the Action Editor know.

Thank you for supporting TMLR.

The TMLR Editors-in-Chief

Please note that responding to this email will direct your reply to noreply@openreview.net.
""", wrap=None), to="Kai Andersen <kai@andersen.dk>", mid_style="plain")

add("o-press", "other", "2026-01-18 10:40:13 +0000",
    "Freya Castellano <freya.castellano@protonmail.com>",
    "Interview request: researchers outside academia (feature for WIRED UK)",
    text_part("""\
Hello Kai,

I'm a freelance science journalist based in London, currently working on a feature for WIRED UK about people doing serious AI research without a university or a big lab behind them. Your blog post has been passed around a lot, and I think your story could anchor the piece.

Would you have 30-40 minutes for a phone or video interview in the next ten days? My filing deadline is 30 January. I'd like to talk about how you funded the work, what the reaction has been since the paper, and whether the independent route is something you'd recommend to others. Happy to send the questions in advance, and of course you could check any direct quotes before publication.

Thanks for considering it,
Freya Castellano
freelance journalist | freyacastellano.com | +44 7700 900412
"""), mid="<qL7mT2xZ9vRk4bYp0sWn3cHe8uJa1dFg@protonmail.com>")

add("o-linkedin", "other", "2026-03-16 05:12:44 +0000",
    "LinkedIn Job Alerts <jobalerts-noreply@linkedin.com>",
    ew("“research engineer”:") + " 9 new jobs in Greater Copenhagen",
    text_part("""\
Your job alert for research engineer in Greater Copenhagen Area and Remote
9 new jobs match your preferences.

Machine Learning Research Engineer
Corti - Copenhagen (Hybrid)
Actively recruiting
View job: https://www.linkedin.com/comm/jobs/view/4187730112/

Research Engineer, Speech Recognition
Corti - Copenhagen (On-site)
View job: https://www.linkedin.com/comm/jobs/view/4187730598/

Senior Data Scientist, Clinical AI
Novo Nordisk - Søborg, Capital Region of Denmark
View job: https://www.linkedin.com/comm/jobs/view/4186511027/

ML Engineer - Computer Vision
Veo Technologies - Copenhagen (Hybrid)
Be an early applicant
View job: https://www.linkedin.com/comm/jobs/view/4188002341/

Research Engineer, Generative Models
Unity - Copenhagen (Hybrid)
View job: https://www.linkedin.com/comm/jobs/view/4185993764/

AI Engineer
Templafy - Copenhagen
View job: https://www.linkedin.com/comm/jobs/view/4187014450/

Machine Learning Engineer, Forecasting
Maersk - Copenhagen (Hybrid)
View job: https://www.linkedin.com/comm/jobs/view/4186870093/

Data Scientist - Drug Discovery
Lundbeck - Valby
View job: https://www.linkedin.com/comm/jobs/view/4188119276/

Applied Scientist (Remote, EU)
Shift Labs - Remote
View job: https://www.linkedin.com/comm/jobs/view/4184420911/

See all jobs: https://www.linkedin.com/comm/jobs/search?savedSearchId=1729385502

----------------------------------------
This email was intended for Kai Andersen (Independent ML researcher)
You are receiving Job Alert emails.
Manage job alerts: https://www.linkedin.com/comm/jobs/alerts
Unsubscribe: https://www.linkedin.com/job-alert-email-unsubscribe?savedSearchId=1729385502
Help: https://www.linkedin.com/help/linkedin/answer/67
(c) 2026 LinkedIn Corporation, 1000 West Maude Avenue, Sunnyvale, CA 94085.
""", cte="quoted-printable"), to="Kai Andersen <kai@andersen.dk>",
    mid="<1412882937.31850237.1773637964022@ltx1-app3207.prod.linkedin.com>",
    return_path="s-2b4kt1x0ye2a1qz8wtpb3bh5@bounce.linkedin.com",
    extra=[("List-Unsubscribe", "<https://www.linkedin.com/job-alert-email-unsubscribe?savedSearchId=1729385502>"),
           ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
           ("Precedence", "bulk"),
           ("X-LinkedIn-Class", "JOBS-TO-MBR"),
           ("X-LinkedIn-Template", "email_job_alert_digest_01")])

add("o-spam", "other", "2026-03-06 04:33:19 +0530",
    "Editorial Office IJANCR <editor.ijancr.journal@gmail.com>",
    "Dr. Andersen, Call for Manuscript - Special Issue | Fast Publication in 7 Days!!!",
    text_part("""\
Dear Dr. Kai Andersen,

Greetings from IJANCR!!

From the desk of the Editor-in-Chief: we have gone through your eminent research article "Tracing memorization in recurrent sequence models" and we are highly impressed by the quality and novelty of your work.

International Journal of Advanced Neural Computing and Robotics (IJANCR) is a peer reviewed, open access, monthly journal with Impact Factor 7.92 (Global Indexing Factor), indexed in many leading databases.

We cordially invite you to submit your next manuscript, or even the same manuscript, for our upcoming Special Issue "Deep Learning for Everything 2026".

* Peer review in 72 hours
* Publication within 7 days of acceptance
* Article Processing Charge only 99 USD (special discount for ICLR authors)
* e-Certificate of publication provided

Kindly send your manuscript as MS Word file to this email. Kindly ignore if already submitted.

With Warm Regards,
Dr. Melissa Grant
Editorial Office, IJANCR

To unsubscribe kindly reply with REMOVE in subject line.
""", wrap=None), to="kai@andersen.dk", reply_to="submissions.ijancr@outlook.com",
    mid_style="gmail", return_path="bounce-7731@mailer.fastsend-pro.xyz",
    extra=[("X-Mailer", "PHPMailer 6.8.1 (https://github.com/PHPMailer/PHPMailer)")])

add("o-pydata", "other", "2026-03-12 21:09:02 +0100",
    "Rasmus Lund <rasmus.lund.dk@gmail.com>", "Talk at PyData Copenhagen in April?",
    text_part("""\
Hej Kai,

I'm one of the organisers of PyData Copenhagen. We would love to have you as the main speaker at our April meetup: Wednesday 22 April, 18:00, hosted by Trustpilot near Nørreport. 30-40 minutes on the paper, on the blog post, or both. Our crowd is a mix of data scientists and engineers, so the "how did you actually build this" angle would go down very well.

There's pizza, a small speaker gift and a lot of people who have already asked whether you're coming. Let me know if the date works, or whether May would suit you better.

Mvh
Rasmus
"""), mid_style="gmail")

add("o-iclr-receipt", "other", "2026-03-19 12:00:41 +0000",
    "ICLR 2026 Registration <registration@iclr.cc>",
    "ICLR 2026 registration confirmation - receipt IC26-48213",
    text_part("""\
Dear Kai Andersen,

Thank you for registering for the Fourteenth International Conference on Learning Representations (ICLR 2026), 23-27 April 2026, Rio de Janeiro, Brazil.

REGISTRATION SUMMARY
Registrant:         Kai Andersen
Affiliation:        Independent Researcher
Registration type:  Conference + Workshops (Author, early, non-student)
Amount paid:        USD 675.00
Payment method:     Visa ending in 4417
Transaction date:   19 March 2026
Receipt number:     IC26-48213

Badges are collected at the registration desk on site; please bring a photo ID matching the name above. If you need an invitation letter for a visa application, request it from your profile page before 1 April.

This is an automated message; replies to this address are not monitored.
""", wrap=None), mid_style="plain")


# ---------------------------------------------------------------------------
# write the mbox and the answer key
# ---------------------------------------------------------------------------

EXPECTED = {"congratulation": 12, "advice_request": 12, "phd_offer": 7, "job_lead": 8, "other": 9}


def build():
    msgs = sorted(MESSAGES, key=lambda m: (m["when"].astimezone(datetime.timezone.utc), m["key"]))
    counts = {label: sum(1 for m in msgs if m["label"] == label) for label in LABELS}
    assert counts == EXPECTED, counts
    assert len({m["mid"] for m in msgs}) == len(msgs), "duplicate Message-ID"

    tmp = MBOX_PATH + ".tmp"
    if os.path.exists(tmp):
        os.remove(tmp)
    box = mailbox.mbox(tmp, create=True)
    try:
        for m in msgs:
            stamp = time.asctime(m["when"].astimezone(datetime.timezone.utc).timetuple())
            from_line = f"From {m['env_from']} {stamp}\n".encode("ascii")
            box.add(from_line + m["raw"])
        box.flush()
    finally:
        box.close()
    os.replace(tmp, MBOX_PATH)

    labels = {m["mid"]: m["label"] for m in msgs}
    with open(LABELS_PATH, "w", encoding="utf-8", newline="\n") as fh:
        json.dump(labels, fh, indent=2, ensure_ascii=False)
        fh.write("\n")

    # read it back as a reader would
    box = mailbox.mbox(MBOX_PATH, create=False)
    try:
        ids = [msg["Message-ID"] for msg in box]
    finally:
        box.close()
    assert ids == list(labels), "mbox does not read back as written"
    return counts


if __name__ == "__main__":
    counts = build()
    print(f"wrote {os.path.relpath(MBOX_PATH)} ({sum(counts.values())} messages: "
          + ", ".join(f"{k} {v}" for k, v in counts.items()) + f") and {os.path.relpath(LABELS_PATH)}")
    sys.exit(0)
