#!/usr/bin/env python3
"""Builds the fidelity corpus: files written by real producers (pandas, R,
LibreOffice, openpyxl, Python's codecs), each with its reference answer
computed here, independently of the Go code: Python's csv module with the
file's true dialect, and openpyxl for workbooks. The Go test
(services/all/fidelity_test.go) converts every file through the API and
checks the dataset against expected.json.

Run it from anywhere with Debian's python3 (python3-pandas,
python3-openpyxl, python3-cryptography, python3-olefile,
python3-msoffcrypto-tool), R (r-base-core) and LibreOffice
(libreoffice-calc-nogui) installed:

    /usr/bin/python3 services/all/testdata/fidelity/make_corpus.py

The generated files are committed; CI only reads them. Producer output
that embeds dates (workbooks) changes bytes on a re-run, not content.
"""

import csv
import datetime
import decimal
import gzip
import hashlib
import hmac
import io
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import base64

import openpyxl
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = []

# The naming rule the API documents (and the dataset follows): header cells
# trimmed, a blank one named column_<n> by position, a repeated one
# (case-insensitively) suffixed _2, _3...; without a header, column_<n>.
def column_names(header, width):
    width = max(width, len(header))
    out, used = [], {}
    for h in header:
        n = " ".join(h.split()) if h else ""
        if n:
            used.setdefault(n.lower(), False)
    for i in range(width):
        name = header[i].strip() if i < len(header) else ""
        name = "".join(" " if ord(c) < 32 else c for c in name).strip()
        if not name:
            name = "column_%d" % (i + 1)
            k = 2
            while name.lower() in used:
                name = "column_%d_%d" % (i + 1, k)
                k += 1
        base, k = name, 2
        while used.get(name.lower()):
            name = "%s_%d" % (base, k)
            k += 1
        used[name.lower()] = True
        out.append(name)
    return out


def path(name):
    return os.path.join(HERE, name)


def write_bytes(name, data, compress=False):
    if compress:
        # mtime 0 keeps the archive's bytes stable across runs.
        with open(path(name + ".gz"), "wb") as raw:
            with gzip.GzipFile(filename=name, mode="wb", fileobj=raw, mtime=0) as f:
                f.write(data)
    else:
        with open(path(name), "wb") as f:
            f.write(data)


def read_records(data, encoding, delimiter=",", quoting=csv.QUOTE_MINIMAL, skip_lines=0, newline_mode=None):
    """Reads records with Python's csv module in the file's true dialect;
    returns [(line, fields)] of the non-blank records after skip_lines
    physical lines. Lines are counted from 1 over the whole file."""
    text = data.decode(encoding) if isinstance(encoding, str) else encoding(data)
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines(keepends=True)
    body = "".join(lines[skip_lines:])
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter, quoting=quoting,
                        strict=False, doublequote=quoting != csv.QUOTE_NONE)
    out = []
    prev = 0
    for fields in reader:
        line = skip_lines + prev + 1
        prev = reader.line_num
        if not fields or fields == [""]:
            continue
        out.append((line, fields))
    return out


def pandas_reading(name, reader):
    """What pandas does with the file at its defaults: rows and columns, or
    the error it raises."""
    try:
        df = reader(path(name))
        return {"rows": int(len(df)), "columns": [str(c) for c in df.columns]}
    except Exception as e:  # the report records how pandas fails
        return {"error": type(e).__name__ + ": " + str(e).splitlines()[0][:160]}


def case(name, family, file, producer, rows, columns, types=None, checks=(), options=None,
         rows_in_file=None, rejected=(), warnings=(), content_type="text/csv", pandas=None, fails=None, gz=False, note=""):
    CASES.append({
        "name": name, "family": family, "file": file + (".gz" if gz else ""), "upload_name": file,
        "content_type": content_type, "producer": producer, "options": options or {},
        "rows_in_file": rows if rows_in_file is None else rows_in_file, "rows": rows,
        "rejected_lines": list(rejected), "warnings": sorted(set(warnings)), "columns": columns,
        "types": types, "checks": [{"sql": s, "value": v} for s, v in checks],
        "pandas": pandas or {}, "fails": fails, "note": note,
    })


def fsum(values):
    return float(sum(decimal.Decimal(v) for v in values if v not in ("", None)))


# ---------------------------------------------------------------- header --

def header_cases():
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "Zoë", "y"], "c": [2.5, 3.5, 4.5]})
    df.to_csv(path("pandas_index.csv"))
    data = open(path("pandas_index.csv"), "rb").read()
    recs = read_records(data, "utf-8")
    names = column_names(recs[0][1], len(recs[0][1]))
    body = recs[1:]
    case("pandas_index", "header", "pandas_index.csv", "pandas %s DataFrame.to_csv() (index, blank first header cell)" % pd.__version__,
         len(body), names, ["bigint", "bigint", "string", "double"],
         [("SELECT sum(c) AS v FROM {t}", fsum(r[3] for _, r in body)),
          ('SELECT b AS v FROM {t} WHERE a = 2', body[1][1][2])],
         pandas=pandas_reading("pandas_index.csv", pd.read_csv))

    r = """df <- data.frame(name=c("Ann","Bob","Cé","Dörte"), score=c(NA,3.5,4,10.25),
           when=as.Date(c("2024-01-02",NA,"2024-03-04","2024-12-31")))
           write.csv(df, "%s")""" % path("r_write_csv.csv")
    subprocess.run(["Rscript", "-e", r], check=True)
    data = open(path("r_write_csv.csv"), "rb").read()
    recs = read_records(data, "utf-8")
    body = recs[1:]
    case("r_write_csv", "header", "r_write_csv.csv", "R %s write.csv() (quoted names, row names, NA)" % r_version(),
         len(body), column_names(recs[0][1], 4), ["bigint", "string", "double", "date"],
         [("SELECT sum(score) AS v FROM {t}", fsum(x[2] for _, x in body if x[2] != "NA")),
          ("SELECT count(*) AS v FROM {t} WHERE score IS NULL", sum(1 for _, x in body if x[2] == "NA")),
          ("SELECT name AS v FROM {t} WHERE column_1 = 4", body[3][1][1])],
         pandas=pandas_reading("r_write_csv.csv", pd.read_csv))

    text = "a,b,c,\n1,2,3,\n4,5,6,\n7,8,9,\n"
    write_bytes("trailing_delimiter.csv", text.encode())
    recs = read_records(text.encode(), "utf-8")
    case("trailing_delimiter", "header", "trailing_delimiter.csv", "hand-written, as spreadsheet exports pad rows (a,b,c,)",
         len(recs) - 1, column_names(recs[0][1], 4), ["bigint", "bigint", "bigint", "string"],
         [("SELECT sum(c) AS v FROM {t}", fsum(r[2] for _, r in recs[1:]))],
         pandas=pandas_reading("trailing_delimiter.csv", pd.read_csv))

    text = "id,name,name,,x\n1,a,b,c,2\n3,d,e,f,4\n"
    write_bytes("duplicate_blank_names.csv", text.encode())
    recs = read_records(text.encode(), "utf-8")
    case("duplicate_blank_names", "header", "duplicate_blank_names.csv", "hand-written (repeated and blank header cells)",
         2, column_names(recs[0][1], 5), ["bigint", "string", "string", "string", "bigint"],
         [("SELECT string_agg(name_2, '|' ORDER BY id) AS v FROM {t}", "b|e"), ("SELECT sum(x) AS v FROM {t}", 6.0)],
         pandas=pandas_reading("duplicate_blank_names.csv", pd.read_csv))

    years = pd.DataFrame({"country": ["DE", "FR", "IT", "ES"], 2019: [1.5, 3.5, 5.25, 0.5], 2020: [2.5, 4.5, 6.0, 1.0],
                          2021: [3.0, 5.0, 7.5, 1.5]})
    years.to_csv(path("year_headers.csv"), index=False)
    data = open(path("year_headers.csv"), "rb").read()
    recs = read_records(data, "utf-8")
    case("year_headers", "header", "year_headers.csv", "pandas DataFrame.to_csv(index=False) with year columns",
         len(recs) - 1, column_names(recs[0][1], 4), ["string", "double", "double", "double"],
         [('SELECT sum("2020") AS v FROM {t}', fsum(r[2] for _, r in recs[1:]))],
         pandas=pandas_reading("year_headers.csv", pd.read_csv))

    text = "id,city,amount\r1,Zürich,10.5\r2,Genève,20\r3,Malmö,30.25\r"
    write_bytes("cr_only.csv", text.encode())
    recs = read_records(text.encode(), "utf-8")
    case("cr_only", "header", "cr_only.csv", "hand-written with classic Mac OS line ends (CR only)",
         3, ["id", "city", "amount"], ["bigint", "string", "double"],
         [("SELECT sum(amount) AS v FROM {t}", fsum(r[2] for _, r in recs[1:])),
          ("SELECT city AS v FROM {t} WHERE id = 2", "Genève")],
         pandas=pandas_reading("cr_only.csv", pd.read_csv))

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["country", 2019, 2020])
    for row in [["DE", 1.5, 2.5], ["FR", 3.5, 4.5], ["Ísland", 0.25, 0.75]]:
        ws.append(row)
    wb.save(path("xlsx_numeric_header.xlsx"))
    ref = openpyxl.load_workbook(path("xlsx_numeric_header.xlsx")).active
    vals = list(ref.values)
    case("xlsx_numeric_header", "header", "xlsx_numeric_header.xlsx", "openpyxl %s (year header cells stored as numbers)" % openpyxl.__version__,
         len(vals) - 1, column_names([str(v) for v in vals[0]], 3), ["string", "double", "double"],
         [('SELECT sum("2019") AS v FROM {t}', float(sum(v[1] for v in vals[1:]))),
          ('SELECT country AS v FROM {t} WHERE "2020" = 0.75', vals[3][0])],
         content_type=XLSX, pandas=pandas_reading("xlsx_numeric_header.xlsx", pd.read_excel))

    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "Quarterly revenue, EUR"
    ws.append([])
    ws.append(["region", "quarter", "revenue", "closed"])
    rows = [["Nord", "Q1", 1250.5, datetime.date(2024, 3, 31)], ["Süd", "Q1", 990.25, datetime.date(2024, 3, 31)],
            ["Nord", "Q2", 1410.0, datetime.date(2024, 6, 30)]]
    for r in rows:
        ws.append(r)
    for row in ws.iter_rows(min_row=4, min_col=4, max_col=4):
        row[0].number_format = "yyyy-mm-dd"
    wb.save(path("xlsx_title_rows.xlsx"))
    ref = [r for r in openpyxl.load_workbook(path("xlsx_title_rows.xlsx")).active.values]
    header = ref[2]
    body = ref[3:]
    case("xlsx_title_rows", "header", "xlsx_title_rows.xlsx", "openpyxl (a title and a blank row above the header)",
         len(body), column_names(list(header), 4), ["string", "string", "double", "date"],
         [("SELECT sum(revenue) AS v FROM {t}", float(sum(r[2] for r in body))),
          ("SELECT CAST(closed AS VARCHAR) AS v FROM {t} WHERE region = 'Süd'", body[1][3].date().isoformat()
           if isinstance(body[1][3], datetime.datetime) else body[1][3].isoformat())],
         content_type=XLSX, pandas=pandas_reading("xlsx_title_rows.xlsx", pd.read_excel))


# -------------------------------------------------------------- encoding --

def encoding_cases():
    # UTF-8 throughout but for one Latin-1 row at the end, past 1 MiB.
    lines = ["id,city,note"]
    i = 0
    while sum(len(l) + 1 for l in lines) < (1 << 20) + 200000:
        i += 1
        lines.append("%d,Genève,Größe – naïve €%d" % (i, i % 97))
    body = ("\n".join(lines) + "\n").encode("utf-8") + ("%d,Besançon,crème\n" % (i + 1)).encode("latin-1")
    write_bytes("utf8_latin1_tail.csv", body, compress=True)
    recs = read_records(body, mixed_decode)
    case("utf8_latin1_tail", "encoding", "utf8_latin1_tail.csv", "generated: UTF-8 with one Latin-1 row at the end (after 1 MiB)",
         len(recs) - 1, ["id", "city", "note"], ["bigint", "string", "string"],
         [("SELECT count(*) AS v FROM {t} WHERE city = 'Genève' AND note LIKE 'Größe – naïve €%'", i),
          ("SELECT city || '/' || note AS v FROM {t} WHERE id = %d" % (i + 1), "Besançon/crème")],
         warnings=["mixed_encoding"], gz=True,
         pandas=pandas_reading_bytes("utf8_latin1_tail.csv", body, pd.read_csv))

    # ASCII for more than 1 MiB, then Latin-1 accents.
    lines = ["id,name"]
    i = 0
    while sum(len(l) + 1 for l in lines) < (1 << 20) + 100000:
        i += 1
        lines.append("%d,plain ascii name %d" % (i, i))
    tail = ["%d,Müller" % (i + 1), "%d,Café crème brûlée" % (i + 2)]
    body = ("\n".join(lines + tail) + "\n").encode("cp1252")
    write_bytes("latin1_after_1mib.csv", body, compress=True)
    recs = read_records(body, "cp1252")
    case("latin1_after_1mib", "encoding", "latin1_after_1mib.csv", "generated: ASCII for over 1 MiB, then windows-1252 accents",
         len(recs) - 1, ["id", "name"], ["bigint", "string"],
         [("SELECT name AS v FROM {t} WHERE id = %d" % (i + 2), "Café crème brûlée"),
          ("SELECT count(*) AS v FROM {t}", len(recs) - 1)], gz=True,
         pandas=pandas_reading_bytes("latin1_after_1mib.csv", body, pd.read_csv))

    jp = pd.DataFrame({"名前": ["山田太郎", "鈴木花子", "佐藤次郎", "高橋美咲"],
                       "住所": ["東京都新宿区西新宿二丁目", "大阪府大阪市北区梅田", "北海道札幌市中央区", "福岡県福岡市博多区"],
                       "金額": [1200, 3400, 560, 7800]})
    jp.to_csv(path("shift_jis.csv"), index=False, encoding="shift_jis")
    data = open(path("shift_jis.csv"), "rb").read()
    recs = read_records(data, "shift_jis")
    case("shift_jis", "encoding", "shift_jis.csv", "pandas to_csv(encoding='shift_jis')",
         4, ["名前", "住所", "金額"], ["string", "string", "bigint"],
         [("SELECT 住所 AS v FROM {t} WHERE 名前 = '鈴木花子'", recs[2][1][1]), ("SELECT sum(金額) AS v FROM {t}", 12960.0)],
         pandas=pandas_reading("shift_jis.csv", pd.read_csv))

    for name, enc, text, check in [
        ("euc_kr", "euc-kr", "이름,도시,점수\n김철수,서울특별시 강남구,90\n이영희,부산광역시 해운대구,85\n박민수,대구광역시 중구,77\n",
         ("SELECT 도시 AS v FROM {t} WHERE 이름 = '이영희'", "부산광역시 해운대구")),
        ("gb18030", "gb18030", "姓名,城市,分数\n张伟,北京市朝阳区,90\n王芳,上海市浦东新区,85\n李娜,广州市天河区,77\n",
         ("SELECT 城市 AS v FROM {t} WHERE 姓名 = '王芳'", "上海市浦东新区")),
        ("big5", "big5", "姓名,城市,分數\n陳大文,臺北市中正區,90\n林小美,高雄市前鎮區,85\n黃志明,臺中市西屯區,77\n",
         ("SELECT 城市 AS v FROM {t} WHERE 姓名 = '林小美'", "高雄市前鎮區")),
        ("cp1251", "cp1251", "Город;Население;Регион\nМосква;13010112;Центральный\nСанкт-Петербург;5601911;Северо-Западный\nНовосибирск;1633595;Сибирский\n",
         ("SELECT Регион AS v FROM {t} WHERE Город = 'Новосибирск'", "Сибирский")),
    ]:
        data = text.encode(enc)
        write_bytes(name + ".csv", data)
        recs = read_records(data, enc, delimiter=";" if ";" in text.splitlines()[0] else ",")
        case(name, "encoding", name + ".csv", "Python codec %s" % enc, len(recs) - 1, recs[0][1],
             ["string", "bigint" if name == "cp1251" else "string", "string" if name == "cp1251" else "bigint"],
             [check], pandas=pandas_reading(name + ".csv", pd.read_csv))

    # Excel's "Unicode Text": UTF-16LE with a BOM, tab-delimited, CRLF, .txt.
    text = "Stadt\tEinwohner\tBundesland\r\nMünchen\t1512491\tBayern\r\nKöln\t1083498\tNordrhein-Westfalen\r\nDüsseldorf\t629047\tNordrhein-Westfalen\r\n"
    data = text.encode("utf-16")
    write_bytes("excel_unicode_text.txt", data)
    recs = read_records(data, "utf-16", delimiter="\t")
    case("excel_unicode_text", "encoding", "excel_unicode_text.txt", "generated like Excel's 'Unicode Text' (UTF-16LE, BOM, tabs, .txt)",
         3, recs[0][1], ["string", "bigint", "string"],
         [("SELECT sum(Einwohner) AS v FROM {t}", fsum(r[1] for _, r in recs[1:])),
          ("SELECT Stadt AS v FROM {t} WHERE Einwohner = 629047", "Düsseldorf")],
         content_type="text/plain", pandas=pandas_reading("excel_unicode_text.txt", pd.read_csv))

    text = "Artikel\tPreis\tLager\r\nStraßenschuh\t59,90\tja\r\nWanderjacke «Alpin»\t129,00\tnein\r\nMütze\t14,50\tja\r\n"
    data = text.encode("cp1252")
    write_bytes("excel_text_tab.txt", data)
    recs = read_records(data, "cp1252", delimiter="\t")
    case("excel_text_tab", "encoding", "excel_text_tab.txt", "generated like Excel's 'Text (Tab delimited)' (windows-1252, .txt)",
         3, recs[0][1], ["string", "double", "string"],
         [("SELECT Artikel AS v FROM {t} WHERE Lager = 'nein'", "Wanderjacke «Alpin»"),
          ("SELECT sum(Preis) AS v FROM {t}", fsum(r[1].replace(",", ".") for _, r in recs[1:]))],
         content_type="text/plain", pandas=pandas_reading("excel_text_tab.txt", pd.read_csv))

    r = """df <- data.frame(produit=c("Crème brûlée","Café","Thé vert"), prix=c(4.5,2.25,1234.75), stock=c(10,NA,3))
           write.csv2(df, "%s", fileEncoding="latin1", row.names=FALSE)""" % path("r_write_csv2_latin1.csv")
    subprocess.run(["Rscript", "-e", r], check=True)
    data = open(path("r_write_csv2_latin1.csv"), "rb").read()
    recs = read_records(data, "latin-1", delimiter=";")
    case("r_write_csv2_latin1", "encoding", "r_write_csv2_latin1.csv", "R write.csv2(fileEncoding='latin1'): ';', decimal commas, NA",
         3, recs[0][1], ["string", "double", "bigint"],
         [("SELECT sum(prix) AS v FROM {t}", fsum(r[1].replace(",", ".") for _, r in recs[1:])),
          ("SELECT produit AS v FROM {t} WHERE stock IS NULL", "Café")],
         pandas=pandas_reading("r_write_csv2_latin1.csv", pd.read_csv))


def mixed_decode(data):
    """Decodes each line as UTF-8 where it is valid, else as windows-1252."""
    out = []
    for line in data.split(b"\n"):
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(line.decode("cp1252"))
    return "\n".join(out)


def pandas_reading_bytes(name, data, reader):
    with tempfile.NamedTemporaryFile(suffix=".csv") as f:
        f.write(data)
        f.flush()
        try:
            df = reader(f.name)
            return {"rows": int(len(df)), "columns": [str(c) for c in df.columns]}
        except Exception as e:
            return {"error": type(e).__name__ + ": " + str(e).splitlines()[0][:160]}


# ------------------------------------------------------------- malformed --

def malformed_cases():
    text = "a,b,c,d,e\n1,2,3,4,5\n6,7,8\n9,10,11,12,13\n14,15\n16,17,18,19,20\n"
    write_bytes("short_rows.csv", text.encode())
    recs = read_records(text.encode(), "utf-8")
    padded = [line for line, r in recs[1:] if len(r) < 5]
    case("short_rows", "malformed", "short_rows.csv", "hand-written: rows of 3 and 2 of 5 fields",
         len(recs) - 1, ["a", "b", "c", "d", "e"], ["bigint"] * 5,
         [("SELECT sum(a) AS v FROM {t}", fsum(r[0] for _, r in recs[1:])),
          ("SELECT count(*) AS v FROM {t} WHERE d IS NULL", len(padded))],
         warnings=["rows_padded"], pandas=pandas_reading("short_rows.csv", pd.read_csv))

    rows = [("1", '"Mooi & Anders": design tokens', "Utrecht"), ("2", "plain name", "Delft"),
            ("3", '"quoted" in full', "Gouda"), ("4", 'Bureau "Noord"', "Zwolle"), ("5", "last", 'Den "Haag"')]
    text = "id\tname\tcity\n" + "".join("\t".join(r) + "\n" for r in rows)
    write_bytes("tsv_stray_quotes.tsv", text.encode())
    recs = read_records(text.encode(), "utf-8", delimiter="\t", quoting=csv.QUOTE_NONE)
    case("tsv_stray_quotes", "malformed", "tsv_stray_quotes.tsv", "hand-written TSV whose fields start or end with quotation marks",
         len(recs) - 1, ["id", "name", "city"], ["bigint", "string", "string"],
         [("SELECT name AS v FROM {t} WHERE id = 1", recs[1][1][1]), ("SELECT name AS v FROM {t} WHERE id = 3", recs[3][1][1]),
          ("SELECT city AS v FROM {t} WHERE id = 5", recs[5][1][2])],
         content_type="text/tab-separated-values", pandas=pandas_reading("tsv_stray_quotes.tsv", lambda p: pd.read_csv(p, sep="\t")))

    text = 'item\tsize\tnote\npipe\t3/4"\t"best" seller\nboard\t2\'x4\'\tpine\nscrew\t1"\t"\n'
    write_bytes("tsv_quotes_as_data.tsv", text.encode())
    recs = read_records(text.encode(), "utf-8", delimiter="\t", quoting=csv.QUOTE_NONE)
    case("tsv_quotes_as_data", "malformed", "tsv_quotes_as_data.tsv", "hand-written TSV of inch marks, read with quote='' (quoting off)",
         3, ["item", "size", "note"], ["string", "string", "string"],
         [("SELECT size || '|' || note AS v FROM {t} WHERE item = 'pipe'", recs[1][1][1] + "|" + recs[1][1][2]),
          ("SELECT note AS v FROM {t} WHERE item = 'screw'", recs[3][1][2])],
         options={"quote": ""}, content_type="text/tab-separated-values",
         pandas=pandas_reading("tsv_quotes_as_data.tsv", lambda p: pd.read_csv(p, sep="\t")))

    text = 'id,name,score\n1,"Ann",3\n2,"Bob "the builder" Jr",4\n3,"Cy",5\n4,"unterminated,6\n5,Dee,7\n'
    write_bytes("broken_quotes.csv", text.encode())
    # The faithful reading: rows 2 and 4 break the quoting; read with quotes
    # as text each still has the table's three fields.
    plain = read_records(text.encode(), "utf-8", quoting=csv.QUOTE_NONE)
    case("broken_quotes", "malformed", "broken_quotes.csv", "hand-written: a stray quote inside a quoted field, an unterminated quote",
         5, ["id", "name", "score"], ["bigint", "string", "bigint"],
         [("SELECT name AS v FROM {t} WHERE id = 2", plain[2][1][1]), ("SELECT name AS v FROM {t} WHERE id = 4", plain[4][1][1]),
          ("SELECT name AS v FROM {t} WHERE id = 5", "Dee"), ("SELECT sum(score) AS v FROM {t}", 25.0)],
         warnings=["quotes_as_text"], pandas=pandas_reading("broken_quotes.csv", pd.read_csv))

    text = "id,name,city\n1,Ann,Paris\n2,Bob,Lyon\n3,Smith, John,Nice\n4,Dee,Lille\n5,Eve,Metz,,\n"
    write_bytes("too_many_fields.csv", text.encode())
    recs = read_records(text.encode(), "utf-8")
    rejected = [line for line, r in recs[1:] if len(r) > 3 and any(x.strip() for x in r[3:])]
    kept = [r for line, r in recs[1:] if line not in rejected]
    case("too_many_fields", "malformed", "too_many_fields.csv", "hand-written: an unquoted comma in one row, empty extras in another",
         len(kept), ["id", "name", "city"], ["bigint", "string", "string"],
         [("SELECT sum(id) AS v FROM {t}", fsum(r[0] for r in kept)), ("SELECT city AS v FROM {t} WHERE id = 5", "Metz")],
         rows_in_file=len(recs) - 1, rejected=rejected, warnings=["rows_rejected"],
         pandas=pandas_reading("too_many_fields.csv", pd.read_csv))


# -------------------------------------------------------------- preamble --

def preamble_cases():
    text = "Sales report 2024\n\nregion,amount\nNorth,10.5\nSouth,20\nEast,30.25\n"
    write_bytes("preamble_title.csv", text.encode())
    recs = read_records(text.encode(), "utf-8", skip_lines=2)
    case("preamble_title", "preamble", "preamble_title.csv", "hand-written: a title and a blank line above the header",
         len(recs) - 1, recs[0][1], ["string", "double"],
         [("SELECT sum(amount) AS v FROM {t}", fsum(r[1] for _, r in recs[1:]))],
         pandas=pandas_reading("preamble_title.csv", pd.read_csv))

    text = "sep=;\nregion;amount;share\nNorth;10,5;0,25\nSouth;1.234,75;0,5\nEast;30;0,25\n"
    write_bytes("excel_sep_line.csv", text.encode())
    recs = read_records(text.encode(), "utf-8", delimiter=";", skip_lines=1)
    case("excel_sep_line", "preamble", "excel_sep_line.csv", "hand-written like Excel's CSV with a sep=; first line and decimal commas",
         3, recs[0][1], ["string", "double", "double"],
         [("SELECT sum(amount) AS v FROM {t}", fsum(r[1].replace(".", "").replace(",", ".") for _, r in recs[1:]))],
         pandas=pandas_reading("excel_sep_line.csv", pd.read_csv))

    text = ("Export of 2024-06-30, source: ERP, user: ann\nFilters: region = all, year = 2024\nNote: amounts in EUR, net\n"
            "region,amount,units\nNorth,10.5,3\nSouth,20,4\n")
    write_bytes("notes_skip_rows.csv", text.encode())
    recs = read_records(text.encode(), "utf-8", skip_lines=3)
    case("notes_skip_rows", "preamble", "notes_skip_rows.csv", "hand-written: three note lines with commas, read with skip_rows=3",
         2, recs[0][1], ["string", "double", "bigint"],
         [("SELECT sum(units) AS v FROM {t}", 7.0)], options={"skip_rows": 3},
         pandas=pandas_reading("notes_skip_rows.csv", pd.read_csv))


# -------------------------------------------------------------- durations --

def duration_cases():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["task", "elapsed"])
    spans = [("build", datetime.timedelta(hours=36)), ("test", datetime.timedelta(hours=12, minutes=30)),
             ("deploy", datetime.timedelta(days=4, hours=4, minutes=15, seconds=30)), ("review", datetime.timedelta(minutes=45))]
    for t, d in spans:
        ws.append([t, d])
    wb.save(path("durations_openpyxl.xlsx"))
    ref = list(openpyxl.load_workbook(path("durations_openpyxl.xlsx")).active.values)[1:]
    case("durations_openpyxl", "durations", "durations_openpyxl.xlsx", "openpyxl timedelta cells ([hh]:mm:ss)",
         len(ref), ["task", "elapsed"], ["string", "interval"],
         [("SELECT CAST(elapsed AS VARCHAR) AS v FROM {t} WHERE task = 'build'", hms(ref[0][1])),
          ("SELECT CAST(elapsed AS VARCHAR) AS v FROM {t} WHERE task = 'deploy'", hms(ref[2][1])),
          ("SELECT CAST(sum(epoch(elapsed)) AS BIGINT) AS v FROM {t}", int(sum(r[1].total_seconds() for r in ref)))],
         content_type=XLSX, pandas=pandas_reading("durations_openpyxl.xlsx", pd.read_excel))

    src = os.path.join(tempfile.mkdtemp(), "durations_libreoffice.csv")
    with open(src, "w") as f:
        f.write("task,duration,started\nbuild,36:00:00,2024-01-02 08:00:00\ntest,12:30:00,2024-01-03 09:15:00\ndeploy,100:15:30,2024-01-05 23:59:00\n")
    libreoffice_convert(src, "durations_libreoffice.xlsx", infilter="CSV:44,34,76,1,,1033,false,true")
    ref = list(openpyxl.load_workbook(path("durations_libreoffice.xlsx")).active.values)[1:]
    durations = [v if isinstance(v, datetime.timedelta) else datetime.timedelta(hours=v.hour, minutes=v.minute, seconds=v.second)
                 for _, v, _ in ref]
    case("durations_libreoffice", "durations", "durations_libreoffice.xlsx",
         "LibreOffice %s CSV to XLSX ([hh]:mm:ss for 36 h, a time format for 12:30)" % libreoffice_version(),
         len(ref), ["task", "duration", "started"], ["string", "interval", "timestamp"],
         [("SELECT CAST(duration AS VARCHAR) AS v FROM {t} WHERE task = 'build'", hms(durations[0])),
          ("SELECT CAST(duration AS VARCHAR) AS v FROM {t} WHERE task = 'deploy'", hms(durations[2])),
          ("SELECT CAST(started AS VARCHAR) AS v FROM {t} WHERE task = 'test'", str(ref[1][2]))],
         content_type=XLSX, pandas=pandas_reading("durations_libreoffice.xlsx", pd.read_excel))


def hms(td):
    """A duration as DuckDB writes an INTERVAL of hours: 36:00:00."""
    s = int(td.total_seconds())
    return "%02d:%02d:%02d" % (s // 3600, s % 3600 // 60, s % 60)


# ------------------------------------------------------------------ other --

def other_cases():
    ids = ["12345678901234567890", "98765432109876543210", "10000000000000000001", "99999999999999999999"]
    text = "id,label,amount\n" + "".join("%s,item %d,%d.5\n" % (v, i, i) for i, v in enumerate(ids))
    write_bytes("big_ids.csv", text.encode())
    case("big_ids", "types", "big_ids.csv", "hand-written: 20-digit identifiers",
         4, ["id", "label", "amount"], ["decimal", "string", "double"],
         [("SELECT CAST(id AS VARCHAR) AS v FROM {t} WHERE label = 'item 2'", ids[2]),
          ("SELECT CAST(max(id) AS VARCHAR) AS v FROM {t}", max(ids, key=int))],
         pandas=pandas_reading("big_ids.csv", pd.read_csv))

    text = "id,v,when,flag\n1,NA,2024-01-02,true\n2,3.5,N/A,false\n3,N/A,2024-01-04,null\n4,null,NA,true\n5,7,2024-01-06,\n6,,2024-01-07,false\n"
    write_bytes("na_tokens.csv", text.encode())
    recs = read_records(text.encode(), "utf-8")
    tokens = {"NA", "N/A", "null", ""}
    case("na_tokens", "types", "na_tokens.csv", "hand-written: NA, N/A, null and empty for missing values",
         6, ["id", "v", "when", "flag"], ["bigint", "double", "date", "boolean"],
         [("SELECT sum(v) AS v FROM {t}", fsum(r[1] for _, r in recs[1:] if r[1] not in tokens)),
          ("SELECT count(*) AS v FROM {t} WHERE v IS NULL", sum(1 for _, r in recs[1:] if r[1] in tokens)),
          ("SELECT count(\"when\") AS v FROM {t}", sum(1 for _, r in recs[1:] if r[2] not in tokens))],
         pandas=pandas_reading("na_tokens.csv", pd.read_csv))

    text = "Artikel;Umsatz;Menge\nTisch;1.234,56;3\nStuhl;99,90;12\nLampe;1.000.000,01;1\n"
    write_bytes("decimal_commas.csv", text.encode())
    recs = read_records(text.encode(), "utf-8", delimiter=";")
    case("decimal_commas", "types", "decimal_commas.csv", "hand-written German export: ';' and 1.234,56",
         3, ["Artikel", "Umsatz", "Menge"], ["string", "double", "bigint"],
         [("SELECT sum(Umsatz) AS v FROM {t}", fsum(r[1].replace(".", "").replace(",", ".") for _, r in recs[1:]))],
         pandas=pandas_reading("decimal_commas.csv", pd.read_csv))

    text = ("id,at_local,at_zone,clock\n1,2024-03-10 08:30:00,2024-03-10 08:30:00+02:00,08:30:00\n"
            "2,2024-07-01 23:59:59,2024-07-01 23:59:59Z,23:59:59\n")
    write_bytes("times_and_zones.csv", text.encode())
    case("times_and_zones", "types", "times_and_zones.csv", "hand-written: local timestamps, timestamps with offsets, times of day",
         2, ["id", "at_local", "at_zone", "clock"], ["bigint", "timestamp", "timestamptz", "time"],
         [("SELECT CAST(at_local AS VARCHAR) AS v FROM {t} WHERE id = 1", "2024-03-10 08:30:00"),
          ("SELECT CAST(clock AS VARCHAR) AS v FROM {t} WHERE id = 2", "23:59:59")],
         pandas=pandas_reading("times_and_zones.csv", pd.read_csv),
         note="the query result of at_local has no zone; at_zone is UTC with Z")

    encrypted_workbook()
    case("encrypted", "unreadable", "encrypted.xlsx", "ECMA-376 agile encryption (AES-256) of an openpyxl workbook, checked with msoffcrypto",
         0, [], content_type=XLSX, fails="password-protected",
         pandas=pandas_reading("encrypted.xlsx", pd.read_excel))


# ------------------------------------------------------------ that work --

def working_cases():
    text = 'id,comment,score\n1,"first line\nsecond line",5\n2,"a, b and ""c""",4\n3,plain,3\n'
    write_bytes("embedded_newlines.csv", text.encode())
    recs = read_records(text.encode(), "utf-8")
    case("embedded_newlines", "works", "embedded_newlines.csv", "hand-written: quoted line breaks, doubled quotes",
         3, ["id", "comment", "score"], ["bigint", "string", "bigint"],
         [("SELECT comment AS v FROM {t} WHERE id = 1", recs[1][1][1]), ("SELECT comment AS v FROM {t} WHERE id = 2", recs[2][1][1])],
         pandas=pandas_reading("embedded_newlines.csv", pd.read_csv))

    text = "city;note\nZürich;größer\nMalmö;ñandú\n"
    write_bytes("utf16_bom.csv", text.encode("utf-16"))
    write_bytes("utf8_bom.csv", text.encode("utf-8-sig"))
    for name in ("utf16_bom", "utf8_bom"):
        case(name, "works", name + ".csv", "Python codec (%s with a byte order mark)" % name.split("_")[0],
             2, ["city", "note"], ["string", "string"], [("SELECT note AS v FROM {t} WHERE city = 'Malmö'", "ñandú")],
             pandas=pandas_reading(name + ".csv", pd.read_csv))

    lines = ["n,code"]
    for i in range(1, 60001):
        lines.append("%d,%s" % (i, ("X-%d" % i) if i > 50000 else str(i * 7)))
    data = ("\n".join(lines) + "\n").encode()
    write_bytes("type_change_50001.csv", data, compress=True)
    case("type_change_50001", "works", "type_change_50001.csv", "generated: integers, then text from row 50,001",
         60000, ["n", "code"], ["bigint", "string"],
         [("SELECT count(*) AS v FROM {t} WHERE code LIKE 'X-%'", 10000), ("SELECT code AS v FROM {t} WHERE n = 50000", "350000")],
         gz=True, pandas=pandas_reading_bytes("type_change_50001.csv", data, pd.read_csv))

    rnd = random.Random(7)
    out = ["sku\tdescription\tsize\tprice"]
    for i in range(1, 120001):
        size = rnd.choice(['1/2"', '3/4"', '2"', "10 mm", '6\' 2"'])
        out.append('%d\t%s pipe %s\t%s\t%d.%02d' % (i, rnd.choice(["Steel", "Copper", '"Pro" PVC', "Brass"]), i % 13, size, i % 500, i % 100))
    data = ("\n".join(out) + "\n").encode()
    write_bytes("tsv_stray_quotes_large.tsv", data, compress=True)
    recs = read_records(data, "utf-8", delimiter="\t", quoting=csv.QUOTE_NONE)
    case("tsv_stray_quotes_large", "works", "tsv_stray_quotes_large.tsv", "generated: 120,000-row TSV with inch marks to the last cell",
         len(recs) - 1, ["sku", "description", "size", "price"], ["bigint", "string", "string", "double"],
         [("SELECT count(*) AS v FROM {t} WHERE size LIKE '%\"'", sum(1 for _, r in recs[1:] if r[2].endswith('"'))),
          ("SELECT description AS v FROM {t} WHERE sku = 120000", recs[-1][1][1])],
         gz=True, content_type="text/tab-separated-values",
         pandas=pandas_reading_bytes("tsv_stray_quotes_large.tsv", data, lambda p: pd.read_csv(p, sep="\t")))

    text = "id;ville;montant\n1;Orléans;12,5\n2;Besançon;7\n3;Nîmes;3,25\n"
    write_bytes("cp1252.csv", text.encode("cp1252"))
    case("cp1252", "works", "cp1252.csv", "Python codec cp1252 (';' and decimal commas)",
         3, ["id", "ville", "montant"], ["bigint", "string", "double"],
         [("SELECT ville AS v FROM {t} WHERE id = 2", "Besançon"), ("SELECT sum(montant) AS v FROM {t}", 22.75)],
         pandas=pandas_reading("cp1252.csv", pd.read_csv))

    df = pd.DataFrame({"order": [1, 2, 3], "customer": ["Zoë", "Jürgen", "Åsa"], "total": [10.5, 20.25, 0.1],
                       "placed": pd.to_datetime(["2024-01-02 10:00", "2024-02-29 23:59", "2024-12-31 00:00"])})
    df.to_excel(path("pandas_to_excel.xlsx"), index=False)
    ref = list(openpyxl.load_workbook(path("pandas_to_excel.xlsx")).active.values)[1:]
    case("pandas_to_excel", "works", "pandas_to_excel.xlsx", "pandas to_excel (openpyxl engine)",
         3, ["order", "customer", "total", "placed"], ["bigint", "string", "double", "timestamp"],
         [("SELECT sum(total) AS v FROM {t}", float(sum(r[2] for r in ref))),
          ("SELECT customer AS v FROM {t} WHERE \"order\" = 2", ref[1][1]),
          ("SELECT CAST(placed AS VARCHAR) AS v FROM {t} WHERE \"order\" = 2", str(ref[1][3]))],
         content_type=XLSX, pandas=pandas_reading("pandas_to_excel.xlsx", pd.read_excel))

    src = os.path.join(tempfile.mkdtemp(), "libreoffice_types.csv")
    with open(src, "w") as f:
        f.write("id,name,amount,day\n1,Ærøskøbing,1250.5,2024-01-31\n2,Łódź,-3.75,2024-02-29\n3,Þingvellir,0,2023-12-31\n")
    libreoffice_convert(src, "libreoffice_types.xlsx", infilter="CSV:44,34,76,1,,1033,false,true")
    ref = list(openpyxl.load_workbook(path("libreoffice_types.xlsx")).active.values)[1:]
    case("libreoffice_types", "works", "libreoffice_types.xlsx", "LibreOffice CSV to XLSX (dates, negative decimals, non-ASCII)",
         3, ["id", "name", "amount", "day"], ["bigint", "string", "double", "date"],
         [("SELECT sum(amount) AS v FROM {t}", float(sum(r[2] for r in ref))), ("SELECT name AS v FROM {t} WHERE id = 2", ref[1][1]),
          ("SELECT CAST(day AS VARCHAR) AS v FROM {t} WHERE id = 2", ref[1][3].date().isoformat())],
         content_type=XLSX, pandas=pandas_reading("libreoffice_types.xlsx", pd.read_excel))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def r_version():
    out = subprocess.run(["Rscript", "-e", "cat(as.character(getRversion()))"], capture_output=True, text=True)
    return out.stdout.strip()


def libreoffice_version():
    out = subprocess.run(["soffice", "--version"], capture_output=True, text=True)
    return out.stdout.split()[1] if out.stdout else "?"


def libreoffice_convert(src, name, infilter):
    out = tempfile.mkdtemp()
    subprocess.run(["soffice", "--headless", "--norestore", "--infilter=" + infilter, "--convert-to", "xlsx", "--outdir", out, src],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180)
    produced = os.path.join(out, os.path.splitext(os.path.basename(src))[0] + ".xlsx")
    os.replace(produced, path(name))


# ------------------------------------------ an encrypted workbook, by hand --

def encrypted_workbook():
    """Encrypts a small workbook with ECMA-376 agile encryption (the
    scheme Excel uses) inside a compound file, then decrypts it with
    msoffcrypto to prove the file is what Excel would write."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    import msoffcrypto

    wb = openpyxl.Workbook()
    wb.active.append(["secret", "value"])
    wb.active.append(["a", 1])
    plain_buf = io.BytesIO()
    wb.save(plain_buf)
    plain = plain_buf.getvalue()
    password = "correct horse"
    rnd = random.Random(42)
    rb = lambda n: bytes(rnd.getrandbits(8) for _ in range(n))

    def aes_cbc(key, iv, data):
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        return enc.update(data) + enc.finalize()

    def pad(b, n=16):
        return b + b"\0" * (-len(b) % n)

    key_salt, pw_salt, secret = rb(16), rb(16), rb(32)
    spin = 100000
    h = hashlib.sha512(pw_salt + password.encode("utf-16-le")).digest()
    for i in range(spin):
        h = hashlib.sha512(struct.pack("<I", i) + h).digest()

    def pw_key(block):
        return hashlib.sha512(h + block).digest()[:32]

    verifier = rb(16)
    enc_vin = aes_cbc(pw_key(bytes.fromhex("fea7d2763b4b9e79")), pw_salt, verifier)
    enc_vhash = aes_cbc(pw_key(bytes.fromhex("d7aa0f6d3061344e")), pw_salt, hashlib.sha512(verifier).digest())
    enc_key = aes_cbc(pw_key(bytes.fromhex("146e0be7abacd0d6")), pw_salt, secret)

    package = struct.pack("<Q", len(plain))
    for i in range(0, len(plain), 4096):
        iv = hashlib.sha512(key_salt + struct.pack("<I", i // 4096)).digest()[:16]
        package += aes_cbc(secret, iv, pad(plain[i:i + 4096]))
    hmac_key = rb(64)
    hmac_value = hmac.new(hmac_key, package, hashlib.sha512).digest()
    iv1 = hashlib.sha512(key_salt + bytes.fromhex("5fb2ad010cb9e1f6")).digest()[:16]
    iv2 = hashlib.sha512(key_salt + bytes.fromhex("a0677f02b22c8433")).digest()[:16]
    b64 = lambda b: base64.b64encode(b).decode()
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
           '<encryption xmlns="http://schemas.microsoft.com/office/2006/encryption" '
           'xmlns:p="http://schemas.microsoft.com/office/2006/keyEncryptor/password">'
           '<keyData saltSize="16" blockSize="16" keyBits="256" hashSize="64" cipherAlgorithm="AES" cipherChaining="ChainingModeCBC" '
           'hashAlgorithm="SHA512" saltValue="%s"/>'
           '<dataIntegrity encryptedHmacKey="%s" encryptedHmacValue="%s"/>'
           '<keyEncryptors><keyEncryptor uri="http://schemas.microsoft.com/office/2006/keyEncryptor/password">'
           '<p:encryptedKey spinCount="%d" saltSize="16" blockSize="16" keyBits="256" hashSize="64" cipherAlgorithm="AES" '
           'cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512" saltValue="%s" encryptedVerifierHashInput="%s" '
           'encryptedVerifierHashValue="%s" encryptedKeyValue="%s"/></keyEncryptor></keyEncryptors></encryption>') % (
        b64(key_salt), b64(aes_cbc(secret, iv1, hmac_key)), b64(aes_cbc(secret, iv2, hmac_value)), spin, b64(pw_salt),
        b64(enc_vin), b64(enc_vhash), b64(enc_key))
    info = struct.pack("<HHI", 4, 4, 0x40) + xml.encode()
    # Streams under 4096 bytes would live in the mini stream; XML allows
    # trailing white space, which keeps this writer to regular sectors.
    info += b" " * max(0, 4096 - len(info))
    data = compound_file([("EncryptionInfo", info), ("EncryptedPackage", package)])
    with open(path("encrypted.xlsx"), "wb") as f:
        f.write(data)
    with open(path("encrypted.xlsx"), "rb") as f:
        office = msoffcrypto.OfficeFile(f)
        office.load_key(password=password)
        out = io.BytesIO()
        office.decrypt(out)
    if out.getvalue() != plain:
        sys.exit("encrypted.xlsx does not decrypt to the workbook")


def compound_file(streams):
    """A version 3 compound file (512-byte sectors) holding streams of at
    least 4096 bytes each, in regular sectors: header, one FAT sector, one
    directory sector, then the streams."""
    ss = 512
    fat, sectors = [], []
    ENDOFCHAIN, FATSECT, FREESECT = 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    fat.append(FATSECT)          # sector 0: the FAT
    fat.append(ENDOFCHAIN)       # sector 1: the directory
    starts = []
    next_sector = 2
    for _, data in streams:
        n = (len(data) + ss - 1) // ss
        starts.append(next_sector)
        for k in range(n):
            fat.append(next_sector + k + 1 if k < n - 1 else ENDOFCHAIN)
        sectors.append(data + b"\0" * (-len(data) % ss))
        next_sector += n
    if len(fat) > ss // 4:
        raise ValueError("streams too large for one FAT sector")
    fat += [FREESECT] * (ss // 4 - len(fat))

    def entry(name, kind, start, size, child=0xFFFFFFFF, left=0xFFFFFFFF, right=0xFFFFFFFF):
        n = name.encode("utf-16-le") + b"\0\0"
        return (n + b"\0" * (64 - len(n)) + struct.pack("<HBB", len(n), kind, 1) + struct.pack("<III", left, right, child)
                + b"\0" * 16 + b"\0" * 4 + b"\0" * 16 + struct.pack("<I", start) + struct.pack("<Q", size))
    # Red-black tree of the root's children: the two streams, the first
    # the root's child and the second its right sibling (names compare by
    # length first).
    directory = entry("Root Entry", 5, ENDOFCHAIN, 0, child=1)
    directory += entry(streams[0][0], 2, starts[0], len(streams[0][1]), right=2)
    directory += entry(streams[1][0], 2, starts[1], len(streams[1][1]))
    directory += b"\0" * (ss - len(directory))
    header = (bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, ENDOFCHAIN, 0, ENDOFCHAIN, 0))
    header += struct.pack("<I", 0) + struct.pack("<I", FREESECT) * 108
    return header + struct.pack("<%dI" % (ss // 4), *fat) + directory + b"".join(sectors)


def main():
    for f in os.listdir(HERE):
        if f.endswith((".csv", ".tsv", ".txt", ".xlsx", ".gz")):
            os.remove(path(f))
    header_cases()
    encoding_cases()
    malformed_cases()
    preamble_cases()
    duration_cases()
    other_cases()
    working_cases()
    with open(path("expected.json"), "w", encoding="utf-8") as f:
        json.dump({"generated_by": "make_corpus.py", "cases": CASES}, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")
    print("%d cases" % len(CASES))


if __name__ == "__main__":
    main()
