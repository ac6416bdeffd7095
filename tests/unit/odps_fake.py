"""A loopback MaxCompute: the REST and tunnel calls pyodps makes, answered on 127.0.0.1.

Only what GMI's ODPS backend uses is implemented, but for real: pyodps parses every reply
(XML for the REST API, JSON for tunnel sessions, the tunnel's protobuf record stream), every
request is checked against a v2 ``Authorization: ODPS id:signature`` computed with the fake's
secret, and every request is logged (:attr:`FakeMaxCompute.requests`) so tests can assert paths,
methods, SQL text, hints and resources.

State: tables (schema, partitions -> rows), resources, functions, instances (SQL + settings),
tunnel upload sessions (blocks are stored only when the whole block arrived; a session's rows
reach the table only at commit) and download sessions.

SQL is understood only in the shapes pyodps and GMI send: ``CREATE TABLE`` (pyodps' DDL),
``ALTER TABLE ... ADD/DROP PARTITION`` and GMI's ``INSERT OVERWRITE ... SELECT <udtf>(...)``
over ``DISTRIBUTE BY``/``SORT BY``; the latter is executed by :attr:`FakeMaxCompute.executor`
when set (tests plug in a real UDTF run), otherwise it just succeeds with no rows.

Faults (set by tests): ``fail_blocks`` (block id -> failures to inject), ``job_outcome``
('success', 'failed', 'running' = never finishes), ``job_seconds`` (how long a job runs),
``stall_seconds`` (path fragment -> delay before answering).
"""
from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import io
import itertools
import json
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

from odps import types as odps_types
from odps.models import Record, TableSchema
from odps.tunnel.io.reader import TunnelRecordReader
from odps.tunnel.io.writer import BaseRecordWriter

FAKE_ACCESS_ID = "LTAIfakeGmiTestId"
FAKE_SECRET = "fake-secret-Zq81-never-real"
FAKE_PROJECT = "gmi_test"
API_PREFIX = "/api"


@dataclass
class Logged:
    """One request as the fake saw it."""

    method: str
    path: str  # without the /api prefix
    query: Dict[str, str]
    headers: Dict[str, str]
    body: bytes
    via: str  # "rest" (under /api) or "tunnel"
    raw_query: str = ""


class Partitions(dict):
    """``"k=v,k2=v2" -> rows``, remembering when each partition was first created (epoch seconds;
    a counter keeps the order strict even within one second)."""

    _clock = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        self.created: Dict[str, float] = {}

    def __setitem__(self, spec: str, rows: List[list]) -> None:
        if spec not in self.created:
            self.created[spec] = time.time() + next(self._clock)
        super().__setitem__(spec, rows)

    def setdefault(self, spec: str, rows: Optional[List[list]] = None) -> List[list]:
        if spec not in self:
            self[spec] = rows if rows is not None else []
        return self[spec]

    def pop(self, spec: str, *default: Any) -> Any:
        self.created.pop(spec, None)
        return super().pop(spec, *default)


@dataclass
class FakeTable:
    name: str
    columns: List[Tuple[str, str, str]]  # (name, type, comment)
    partition_keys: List[Tuple[str, str, str]]
    lifecycle: Optional[int]
    comment: str
    partitions: Partitions = field(default_factory=Partitions)  # "k=v,k2=v2" -> rows

    def schema_json(self) -> Dict[str, Any]:
        return {
            "tableName": self.name, "comment": self.comment,
            "lifecycle": self.lifecycle if self.lifecycle is not None else -1,
            "columns": [{"name": n, "type": t.lower(), "comment": c, "isNullable": True}
                        for n, t, c in self.columns],
            "partitionKeys": [{"name": n, "type": t.lower(), "comment": c}
                              for n, t, c in self.partition_keys],
        }

    def odps_schema(self, with_partitions: bool = True) -> TableSchema:
        return TableSchema.from_lists(
            [n for n, _, _ in self.columns], [t.lower() for _, t, _ in self.columns],
            [n for n, _, _ in self.partition_keys] if with_partitions else None,
            [t.lower() for _, t, _ in self.partition_keys] if with_partitions else None)


@dataclass
class FakeInstance:
    id: str
    task_name: str
    sql: str
    settings: Dict[str, str]
    job_xml: bytes
    status: str = "Running"  # instance: Running / Terminated
    task_status: str = "Running"  # Running / Success / Failed / Cancelled
    result: str = ""
    submitted: float = 0.0  # time.monotonic() at submission
    finish_at: float = 0.0  # the job ends at the first status request after this moment
    stop_requested: bool = False
    summary: Optional[Dict[str, Any]] = None


@dataclass
class UploadSession:
    id: str
    table: str
    partition: str
    overwrite: bool
    blocks: Dict[int, List[list]] = field(default_factory=dict)
    status: str = "NORMAL"


class FakeMaxCompute:
    """Run with ``with FakeMaxCompute() as fake:``; ``fake.endpoint`` is the REST endpoint."""

    def __init__(self, project: str = FAKE_PROJECT, access_id: str = FAKE_ACCESS_ID,
                 secret: str = FAKE_SECRET) -> None:
        self.project = project
        self.access_id = access_id
        self.secret = secret
        self.requests: List[Logged] = []
        self.tables: Dict[str, FakeTable] = {}
        self.resources: Dict[str, Dict[str, Any]] = {}
        self.functions: Dict[str, Dict[str, Any]] = {}
        self.instances: Dict[str, FakeInstance] = {}
        self.uploads: Dict[str, UploadSession] = {}
        self.downloads: Dict[str, Tuple[str, str, List[list]]] = {}
        self.fail_blocks: Dict[int, int] = {}
        self.job_outcome = "success"
        self.job_error = ("ODPS-0123131:User defined function exception - Traceback (most recent "
                          "call last):\n  File \"gmi_udtf.py\", line 1\nMemoryError")
        self.job_seconds = 0.2
        self.stall_seconds: Dict[str, float] = {}
        self.executor: Optional[Callable[["FakeMaxCompute", FakeInstance, Dict[str, Any]], List[list]]] = None
        self.last_kernel_file: Optional[str] = None
        self.last_run: List[Dict[str, Any]] = []
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        """The REST endpoint (``http://127.0.0.1:<port>/api``)."""
        return "http://127.0.0.1:{}{}".format(self.port, API_PREFIX)

    @property
    def tunnel_address(self) -> str:
        """What ``GET /projects/<p>/tunnel?service`` answers (host:port, no scheme)."""
        return "127.0.0.1:{}".format(self.port)

    def __enter__(self) -> "FakeMaxCompute":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- queries for tests --------------------------------------------------------------------
    def calls(self, method: Optional[str] = None, path_re: str = "", via: Optional[str] = None) -> List[Logged]:
        """Logged requests filtered by method, a path regex and rest/tunnel."""
        with self.lock:
            return [r for r in self.requests if (method is None or r.method == method)
                    and re.search(path_re, r.path) and (via is None or r.via == via)]

    def partition_rows(self, table: str, partition: str) -> Optional[List[list]]:
        """Rows of a partition (``"batch=x"``), or None when the partition does not exist."""
        with self.lock:
            return self.tables[table].partitions.get(partition)

    # -- request dispatch ---------------------------------------------------------------------
    def handle(self, req: Logged) -> Tuple[int, Dict[str, str], bytes]:
        for fragment, delay in list(self.stall_seconds.items()):
            if fragment in req.path + "?" + "&".join(req.query):
                time.sleep(delay)
        if not self._signature_ok(req):
            return _error(403, "SignatureNotMatch", "ODPS-0410042:Invalid signature value - "
                          "User signature does not match")
        parts = unquote(req.path).strip("/").split("/")
        if req.via == "rest" and parts == ["logview", "host"]:
            return 200, {}, "http://127.0.0.1:{}".format(self.port).encode()
        if req.via == "rest" and parts == ["tenants"]:
            return _json(200, {"Tenant": {"Name": "gmi-fake", "TenantId": "1", "Parameters": {}}})
        if len(parts) < 2 or parts[0] != "projects":
            return _error(404, "NoSuchObject", "no such path {}".format(req.path))
        if parts[1] != self.project:
            return _error(404, "NoSuchObject", "ODPS-0420111:Project not found - '{}'".format(parts[1]))
        rest = parts[2:]
        with self.lock:
            if not rest:
                return _xml(200, "<Project><Name>{}</Name><Owner>ALIYUN$fake</Owner>"
                                 "<State>AVAILABLE</State></Project>".format(self.project))
            kind = rest[0]
            if kind == "tunnel" and "service" in req.query:
                return 200, {}, self.tunnel_address.encode()
            if kind == "instances":
                return self._instances(req, rest[1:])
            if kind == "tables":
                if req.via == "tunnel":
                    return self._tunnel(req, rest[1])
                return self._table_meta(req, rest[1])
            if kind == "resources":
                return self._resources(req, rest[1:])
            if kind == "registration" and rest[1:2] == ["functions"]:
                return self._functions(req, rest[2:])
            if kind == "authorization" and "sign_bearer_token" in req.query:
                return _xml(200, "<Authorization><Result>fake-logview-token</Result></Authorization>")
        return _error(404, "NoSuchObject", "no such path {}".format(req.path))

    def _signature_ok(self, req: Logged) -> bool:
        """Check pyodps' v2 signature (HMAC-SHA1 over method, content headers, date, x-odps-*)."""
        auth = req.headers.get("authorization", "")
        match = re.match(r"ODPS ([^:]+):(.+)\Z", auth)
        if not match or match.group(1) != self.access_id:
            return False
        query = dict(parse_qsl(req.raw_query, keep_blank_values=True)) if req.raw_query else {}
        resource = unquote(req.path)  # pyodps signs the URL after its endpoint (so without /api)
        if query:
            resource += "?" + "&".join(k if v == "" else "{}={}".format(k, v) for k, v in sorted(query.items()))
        signed = {"content-md5": req.headers.get("content-md5", ""),
                  "content-type": req.headers.get("content-type", ""),
                  "date": req.headers.get("date", "")}
        for key, value in req.headers.items():
            if key.startswith("x-odps-"):
                signed[key] = value
        for key, value in query.items():
            if key.startswith("x-odps-"):
                signed[key] = value
        lines = [req.method]
        for key in sorted(signed):
            lines.append("{}:{}".format(key, signed[key]) if key.startswith("x-odps-") else signed[key])
        lines.append(resource)
        digest = hmac.new(self.secret.encode(), "\n".join(lines).encode(), hashlib.sha1).digest()
        return hmac.compare_digest(base64.b64encode(digest).decode(), match.group(2))

    # -- instances ----------------------------------------------------------------------------
    def _instances(self, req: Logged, rest: List[str]) -> Tuple[int, Dict[str, str], bytes]:
        if not rest and req.method == "POST":
            return self._submit(req)
        if not rest:
            return _error(405, "MethodNotAllowed", "list instances is not implemented")
        inst = self.instances.get(rest[0])
        if inst is None:
            return _error(404, "NoSuchObject", "ODPS-0420111:Instance not found - {}".format(rest[0]))
        if req.method == "PUT":
            status = ET.fromstring(req.body).findtext("Status")
            if status != "Terminated":
                return _error(400, "InvalidArgument", "unexpected status {}".format(status))
            inst.stop_requested = True
            if inst.status != "Terminated":
                inst.status, inst.task_status = "Terminated", "Cancelled"
            return 200, {}, b""
        if "taskstatus" in req.query:
            return _xml(200, "<Instance><Status>{}</Status><Tasks><Task Type=\"SQL\"><Name>{}</Name>"
                             "<StartTime>{}</StartTime><EndTime></EndTime><Status>{}</Status>"
                             "</Task></Tasks></Instance>".format(
                                 inst.status, inst.task_name, _rfc822(), inst.task_status.upper()))
        if "instanceprogress" in req.query:
            span = max(1e-6, inst.finish_at - inst.submitted)
            elapsed = time.monotonic() - inst.submitted
            done = 100 if inst.status == "Terminated" else min(90, int(100 * elapsed / span))
            stages = [("M1_job_0", 4, done), ("R2_1_job_0", 2, max(0, done - 20))]
            body = "".join(
                "<Stage ID=\"{}\"><BackupWorkers>0</BackupWorkers><TerminatedWorkers>{}</TerminatedWorkers>"
                "<RunningWorkers>{}</RunningWorkers><TotalWorkers>{}</TotalWorkers>"
                "<InputRecords>0</InputRecords><OutputRecords>0</OutputRecords>"
                "<FinishedPercentage>{}</FinishedPercentage></Stage>".format(
                    name, total * pct // 100, total - total * pct // 100, total, pct)
                for name, total, pct in stages)
            return _xml(200, "<Progress>{}</Progress>".format(body))
        if "instancesummary" in req.query:
            if inst.summary is None:
                return _json(200, {"Instance": {"JsonSummary": "", "Summary": ""}})
            return _json(200, {"Instance": {"JsonSummary": json.dumps(inst.summary),
                                            "Summary": "resource cost: cpu 1.00 Core * Min"}})
        if "result" in req.query:
            return _xml(200, "<Instance><Tasks><Task Type=\"SQL\"><Name>{}</Name><Result Format=\"text\">"
                             "<![CDATA[{}]]></Result></Task></Tasks></Instance>".format(
                                 inst.task_name, inst.result))
        if "source" in req.query:
            return 200, {"Content-Type": "application/xml"}, inst.job_xml
        # plain GET (or ?instancestatus): the status; a due job ends now
        if inst.status == "Running" and time.monotonic() >= inst.finish_at and self.job_outcome != "running":
            self._finish(inst)
        headers = {"x-odps-owner": "ALIYUN$fake", "x-odps-start-time": _rfc822()}
        if inst.status == "Terminated":
            headers["x-odps-end-time"] = _rfc822()
        code, hdrs, body = _xml(200, "<Instance><Status>{}</Status></Instance>".format(inst.status))
        hdrs.update(headers)
        return code, hdrs, body

    def _submit(self, req: Logged) -> Tuple[int, Dict[str, str], bytes]:
        root = ET.fromstring(req.body)
        sql_task = root.find("./Job/Tasks/SQL")
        if sql_task is None:
            return _error(400, "InvalidArgument", "only SQL tasks are implemented")
        sql = (sql_task.findtext("Query") or "").strip()
        props = {p.findtext("Name"): p.findtext("Value") for p in sql_task.findall("./Config/Property")}
        settings = json.loads(props.get("settings") or "{}")
        inst_id = "2024{:010d}gmi{}".format(next(self._ids), uuid.uuid4().hex[:6])
        inst = FakeInstance(inst_id, sql_task.findtext("Name") or "", sql, settings, req.body)
        self.instances[inst_id] = inst
        error = self._check_sql(inst)
        if error:
            inst.status, inst.task_status, inst.result = "Terminated", "Failed", error
        elif _is_ddl(sql):
            self._run_ddl(inst)
        else:
            inst.submitted = time.monotonic()
            inst.finish_at = inst.submitted + self.job_seconds
        location = "http://127.0.0.1:{}{}/projects/{}/instances/{}".format(
            self.port, API_PREFIX, self.project, inst_id)
        return 201, {"Location": location}, b""

    def _check_sql(self, inst: FakeInstance) -> str:
        if not inst.sql.endswith(";"):
            return "ODPS-0130161:Parse exception - the statement does not end with ';'"
        return ""

    def _run_ddl(self, inst: FakeInstance) -> None:
        sql = inst.sql
        try:
            if sql.upper().startswith("CREATE TABLE"):
                table = _parse_create_table(sql)
                if table.name not in self.tables or "IF NOT EXISTS" not in sql.upper():
                    if table.name in self.tables:
                        raise ValueError("ODPS-0130071:Semantic analysis exception - table {} "
                                         "already exists".format(table.name))
                    self.tables[table.name] = table
            else:
                match = re.match(r"ALTER TABLE (?:\w+\.)?`?(\w+)`?\s+(ADD|DROP)(\s+IF\s+(?:NOT\s+)?EXISTS)?\s+"
                                 r"PARTITION\s*\((.*)\);?\Z", sql, re.S | re.I)
                if not match:
                    raise ValueError("ODPS-0130161:Parse exception - unsupported DDL")
                table = self.tables[match.group(1)]
                spec = _spec_text(match.group(4))
                if match.group(2).upper() == "ADD":
                    table.partitions.setdefault(spec, [])
                else:
                    table.partitions.pop(spec, None)
        except (KeyError, ValueError) as exc:
            inst.status, inst.task_status, inst.result = "Terminated", "Failed", str(exc)
            return
        inst.status, inst.task_status, inst.result = "Terminated", "Success", "OK"

    def _finish(self, inst: FakeInstance) -> None:
        if self.job_outcome == "failed":
            inst.status, inst.task_status, inst.result = "Terminated", "Failed", self.job_error
            inst.summary = {"Cost": {"CPU": 60, "Memory": 1024, "Input": 1000}}
            return
        match = re.match(r"INSERT OVERWRITE TABLE (?:\w+\.)?`?(\w+)`? PARTITION \((.*?)\)\s*SELECT\s+(\w+)\(",
                         inst.sql, re.S | re.I)
        rows: List[list] = []
        if match:
            func = self.functions.get(match.group(3))
            if func is None:
                inst.status, inst.task_status = "Terminated", "Failed"
                inst.result = "ODPS-0130071:Semantic analysis exception - function {} cannot be resolved".format(
                    match.group(3))
                return
            if self.executor is not None:
                try:
                    rows = self.executor(self, inst, func)
                except Exception as exc:  # a failing UDTF fails the job, as on MaxCompute
                    inst.status, inst.task_status = "Terminated", "Failed"
                    inst.result = "ODPS-0123131:User defined function exception - {}: {}".format(
                        type(exc).__name__, exc)
                    return
            self.tables[match.group(1)].partitions[_spec_text(match.group(2))] = rows
        inst.status, inst.task_status, inst.result = "Terminated", "Success", ""
        inst.summary = {"Cost": {"CPU": 120, "Memory": 4096, "Input": 2048}, "Outputs": len(rows)}

    # -- tables (meta) ------------------------------------------------------------------------
    def _table_meta(self, req: Logged, name: str) -> Tuple[int, Dict[str, str], bytes]:
        table = self.tables.get(name)
        if table is None:
            return _error(404, "NoSuchObject", "ODPS-0130131:Table not found - '{}.{}'".format(self.project, name))
        if "partitions" in req.query:  # one page, no marker (pyodps stops on an empty marker)
            body = "".join(
                "<Partition>{}<CreationTime>{}</CreationTime><LastDDLTime>{}</LastDDLTime>"
                "<LastModifiedTime>{}</LastModifiedTime></Partition>".format(
                    "".join('<Column Name="{}" Value="{}"/>'.format(*kv.split("=", 1)) for kv in spec.split(",")),
                    int(table.partitions.created[spec]), int(table.partitions.created[spec]),
                    int(table.partitions.created[spec]))
                for spec in sorted(table.partitions, key=table.partitions.created.get))
            return _xml(200, "<Partitions><Marker></Marker><MaxItems>1000</MaxItems>{}</Partitions>".format(body))
        if "partition" in req.query:
            spec = _spec_text(req.query["partition"])
            if spec not in table.partitions:
                return _error(404, "NoSuchObject", "ODPS-0130131:Partition not found - {}".format(spec))
            return _xml(200, "<Partition><Schema><![CDATA[{}]]></Schema></Partition>".format(
                json.dumps({"partitionName": spec, "fileNum": 1})))
        return _xml(200, "<Table><Name>{}</Name><TableId>{}</TableId><Schema><![CDATA[{}]]></Schema>"
                         "</Table>".format(name, uuid.uuid5(uuid.NAMESPACE_OID, name).hex,
                                           json.dumps(table.schema_json())))

    # -- tunnel -------------------------------------------------------------------------------
    def _tunnel(self, req: Logged, name: str) -> Tuple[int, Dict[str, str], bytes]:
        table = self.tables.get(name)
        if table is None:
            return _error(404, "NoSuchTable", "table {} does not exist".format(name))
        q = req.query
        partition = _spec_text(q.get("partition", ""))
        if req.method == "POST" and "uploads" in q:
            if table.partition_keys and not partition:
                return _error(400, "MissingPartitionSpec", "a partitioned table needs a partition")
            if partition not in table.partitions:
                if q.get("create_partition") != "true":
                    return _error(404, "NoSuchPartition", "partition {} does not exist".format(partition))
                table.partitions[partition] = []  # created at session start (pessimistic model)
            session = UploadSession(uuid.uuid4().hex.upper(), name, partition, q.get("overwrite") == "true")
            self.uploads[session.id] = session
            return self._upload_json(session, table)
        if "uploadid" in q:
            session = self.uploads.get(q["uploadid"])
            if session is None:
                return _error(404, "NoSuchUpload", "upload {} not found".format(q["uploadid"]))
            if req.method == "PUT":
                block = int(q["blockid"])
                if self.fail_blocks.get(block, 0) > 0:
                    self.fail_blocks[block] -= 1
                    return _error(500, "InternalServerError", "injected failure writing block {}".format(block))
                session.blocks[block] = self._decode_records(req.body, table)
                return 200, {}, b""
            if req.method == "GET":
                return self._upload_json(session, table)
            if req.method == "POST":  # commit
                rows = [row for block in sorted(session.blocks) for row in session.blocks[block]]
                if session.overwrite:
                    table.partitions[session.partition] = rows
                else:
                    table.partitions.setdefault(session.partition, []).extend(rows)
                session.status = "CLOSED"
                return self._upload_json(session, table)
        if req.method == "POST" and "downloads" in q:
            if partition not in table.partitions:
                return _error(404, "NoSuchPartition", "partition {} does not exist".format(partition))
            rows = list(table.partitions[partition])
            download_id = uuid.uuid4().hex.upper()
            self.downloads[download_id] = (name, partition, rows)
            return _json(200, {"DownloadID": download_id, "Status": "NORMAL", "RecordCount": len(rows),
                               "Schema": table.schema_json(), "QuotaName": ""})
        if req.method == "GET" and "downloadid" in q and "data" in q:
            _, _, rows = self.downloads[q["downloadid"]]
            start, count = (int(v) for v in q["rowrange"].strip("()").split(","))
            names = [n for n, _, _ in table.columns]
            wanted = q["columns"].split(",") if q.get("columns") else names
            return 200, {"Content-Type": "application/octet-stream"}, self._encode_records(
                [[row[names.index(c)] for c in wanted] for row in rows[start:start + count]], table, wanted)
        return _error(400, "InvalidArgument", "unsupported tunnel request")

    def _upload_json(self, session: UploadSession, table: FakeTable) -> Tuple[int, Dict[str, str], bytes]:
        return _json(200, {"UploadID": session.id, "Status": session.status,
                           "UploadedBlockList": [{"BlockID": b} for b in sorted(session.blocks)],
                           "Schema": table.schema_json(), "MaxFieldSize": 8 * 1024 * 1024, "QuotaName": ""})

    @staticmethod
    def _decode_records(body: bytes, table: FakeTable) -> List[list]:
        schema = table.odps_schema(with_partitions=False)
        data = io.BytesIO(body)

        def stream(cursor, row_number=None, raw_size=None):
            return data if cursor == 0 else None

        rows = []
        with TunnelRecordReader(schema, stream) as reader:
            for record in reader:
                rows.append(list(record.values))
        return rows

    @staticmethod
    def _encode_records(rows: List[list], table: FakeTable, columns: List[str]) -> bytes:
        types = dict((n, t) for n, t, _ in table.columns)
        schema = TableSchema.from_lists(columns, [types[c].lower() for c in columns])
        out = _Sink()
        writer = BaseRecordWriter(schema, out)
        for values in rows:
            writer.write(Record(schema=schema, values=values))
        writer.close()
        return out.getvalue()

    # -- resources and functions --------------------------------------------------------------
    def _resources(self, req: Logged, rest: List[str]) -> Tuple[int, Dict[str, str], bytes]:
        if req.method == "POST" and not rest:
            name = req.headers.get("x-odps-resource-name", "")
            if name in self.resources:
                return _error(409, "ObjectAlreadyExists", "ODPS-0420111:Resource {} already exists".format(name))
            self.resources[name] = {"type": req.headers.get("x-odps-resource-type"), "content": req.body,
                                    "comment": req.headers.get("x-odps-comment")}
            return 201, {"Location": "{}/projects/{}/resources/{}".format(self.endpoint, self.project, name)}, b""
        if not rest:
            return _error(405, "MethodNotAllowed", "list resources is not implemented")
        name = rest[0]
        if req.method == "PUT":
            self.resources[name] = {"type": req.headers.get("x-odps-resource-type"), "content": req.body,
                                    "comment": req.headers.get("x-odps-comment")}
            return 200, {}, b""
        res = self.resources.get(name)
        if res is None:
            return _error(404, "NoSuchObject", "ODPS-0420111:Resource not found - '{}'".format(name))
        headers = {"x-odps-owner": "ALIYUN$fake", "x-odps-resource-type": res["type"],
                   "x-odps-resource-size": str(len(res["content"])), "x-odps-creation-time": _rfc822(),
                   "Last-Modified": _rfc822(),
                   "Content-MD5": hashlib.md5(res["content"]).hexdigest()}
        if res["comment"]:
            headers["x-odps-comment"] = res["comment"]
        if "meta" in req.query:
            return 200, headers, b""
        return 200, headers, res["content"]

    def _functions(self, req: Logged, rest: List[str]) -> Tuple[int, Dict[str, str], bytes]:
        if req.method in ("POST", "PUT"):
            root = ET.fromstring(req.body)
            name = root.findtext("Alias")
            if req.method == "POST" and name in self.functions:
                return _error(409, "ObjectAlreadyExists", "ODPS-0420111:Function {} already exists".format(name))
            if req.method == "PUT" and (not rest or rest[0] != name or name not in self.functions):
                return _error(404, "NoSuchObject", "function {} not found".format(rest[0] if rest else ""))
            resources = [r.text for r in root.findall("./Resources/ResourceName")]
            missing = [r for r in resources if r not in self.resources]
            if missing:
                return _error(404, "NoSuchObject", "ODPS-0420111:Resource not found - {}".format(missing))
            self.functions[name] = {"class_type": root.findtext("ClassType"), "resources": resources}
            return (201 if req.method == "POST" else 200), {}, b""
        if not rest:
            return _error(405, "MethodNotAllowed", "list functions is not implemented")
        func = self.functions.get(rest[0])
        if func is None:
            return _error(404, "NoSuchObject", "ODPS-0420111:Function not found - '{}'".format(rest[0]))
        return _xml(200, "<Function><Alias>{}</Alias><Owner>ALIYUN$fake</Owner><ClassType>{}</ClassType>"
                         "<Resources>{}</Resources></Function>".format(
                             rest[0], func["class_type"],
                             "".join("<ResourceName>{}</ResourceName>".format(r) for r in func["resources"])))


class _Sink(io.BytesIO):
    """A BytesIO that pyodps' record writer may flush."""


def _make_handler(fake: FakeMaxCompute):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _serve(self) -> None:
            split = urlsplit(self.path)
            path, via = split.path, "tunnel"
            if path.startswith(API_PREFIX + "/") or path == API_PREFIX:
                path, via = path[len(API_PREFIX):], "rest"
            req = Logged(self.command, path, dict(parse_qsl(split.query, keep_blank_values=True)),
                         {k.lower(): v for k, v in self.headers.items()}, self._body(), via, split.query)
            with fake.lock:
                fake.requests.append(req)
            try:
                code, headers, body = fake.handle(req)
            except Exception as exc:  # a bug in the fake: answer like a server error
                code, headers, body = _error(500, "InternalServerError", "fake: {}: {}".format(
                    type(exc).__name__, exc))
            self.send_response(code)
            headers.setdefault("x-odps-request-id", uuid.uuid4().hex)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve  # noqa: N815 (http.server API)

        def log_message(self, *args: Any) -> None:
            return

    return Handler


def _rfc822() -> str:
    return email.utils.formatdate(usegmt=True)


def _xml(code: int, body: str) -> Tuple[int, Dict[str, str], bytes]:
    return code, {"Content-Type": "application/xml"}, ('<?xml version="1.0" encoding="UTF-8"?>' + body).encode()


def _json(code: int, obj: Any) -> Tuple[int, Dict[str, str], bytes]:
    return code, {"Content-Type": "application/json"}, json.dumps(obj).encode()


def _error(code: int, err: str, message: str) -> Tuple[int, Dict[str, str], bytes]:
    request_id = uuid.uuid4().hex
    status, headers, body = _xml(code, "<Error><Code>{}</Code><Message><![CDATA[{}]]></Message>"
                                       "<RequestId>{}</RequestId><HostId>127.0.0.1</HostId></Error>".format(
                                           err, message, request_id))
    headers["x-odps-request-id"] = request_id
    return status, headers, body


def _is_ddl(sql: str) -> bool:
    return bool(re.match(r"(CREATE TABLE|ALTER TABLE)\b", sql, re.I))


def _spec_text(spec: str) -> str:
    """``batch='x', run='y'`` or ``batch=x,run=y`` -> ``batch=x,run=y``."""
    parts = []
    for item in spec.split(","):
        if item.strip():
            key, _, value = item.partition("=")
            parts.append("{}={}".format(key.strip().strip("`"), value.strip().strip("'\"")))
    return ",".join(parts)


def _parse_create_table(sql: str) -> FakeTable:
    """A table from pyodps' ``CREATE TABLE`` DDL (columns, comments, partitions, lifecycle)."""
    head = re.match(r"CREATE TABLE (?:IF NOT EXISTS )?(?:\w+\.)?`?(\w+)`? \((.*?)\n\)", sql, re.S | re.I)
    if not head:
        raise ValueError("ODPS-0130161:Parse exception - cannot parse CREATE TABLE")
    col_re = re.compile(r"`(\w+)` (\w+)(?: COMMENT '((?:[^']|'')*)')?")
    columns = [(m.group(1), m.group(2).upper(), (m.group(3) or "").replace("''", "'"))
               for m in col_re.finditer(head.group(2))]
    rest = sql[head.end():]
    comment = re.match(r"\s*COMMENT '((?:[^']|'')*)'", rest)
    parts = re.search(r"PARTITIONED BY \((.*?)\n\)", rest, re.S)
    partition_keys = [(m.group(1), m.group(2).upper(), (m.group(3) or "").replace("''", "'"))
                      for m in col_re.finditer(parts.group(1))] if parts else []
    lifecycle = re.search(r"LIFECYCLE (\d+)", rest)
    for _, typ, _ in columns + partition_keys:
        odps_types.validate_data_type(typ.lower())
    return FakeTable(head.group(1), columns, partition_keys, int(lifecycle.group(1)) if lifecycle else None,
                     comment.group(1).replace("''", "'") if comment else "")


# ---------------------------------------------------------------------------------------------
# Executing GMI's job: the deployed UDTF over the stored source rows


_ISOLATED_RUNNER = r'''
import os, pickle, sys, importlib.util
workdir, module_file, rows_file, out_file, runtime = sys.argv[1:6]
sys.path.append(runtime)  # the MaxCompute runtime's odps.udf (pyodps + its pure deps, no numpy)
os.chdir(workdir)
name = os.path.basename(module_file)[:-3]
spec = importlib.util.spec_from_file_location(name, module_file)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from odps import options
from odps.udf.tools import runners
options.tunnel.string_as_binary = True  # pyodps' local runner decodes BINARY as UTF-8 otherwise
with open(rows_file, "rb") as f:
    rows = pickle.load(f)
numpy_before = "numpy" in sys.modules
out = runners.simple_run(module.GmiUdtf, rows)
files = {m: sys.modules[m].__file__ for m in ("gmi_engine.kernel.pipeline", "numpy") if m in sys.modules}
with open(out_file, "wb") as f:
    pickle.dump({"rows": out, "files": files, "numpy_before": numpy_before, "path": sys.path}, f)
'''

_NEEDS_NUMPY = {"numpy", "pandas", "pyarrow", "scipy"}
_RUNTIME: Dict[str, Path] = {}


def udf_runtime(root) -> Path:
    '''A folder holding pyodps (``odps.udf``) and the pure-Python packages it imports, but no
    numpy: what the MaxCompute Python runtime provides a UDTF. Made once per test session.'''
    import json as _json
    import subprocess
    import sys

    if "dir" in _RUNTIME and _RUNTIME["dir"].exists():
        return _RUNTIME["dir"]
    probe = ("import json, sys\nimport odps.udf.tools.runners, odps.udf\n"
             "print(json.dumps({m: getattr(v, '__file__', None) for m, v in list(sys.modules.items())}))")
    found = _json.loads(subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True,
                                       check=True).stdout)
    runtime = Path(root) / "udf-runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    for name, file in found.items():
        if "." in name or not file or name in _NEEDS_NUMPY or name.startswith("numpy"):
            continue
        path = Path(file)
        if "-packages" not in str(path):
            continue  # the standard library is there anyway
        target = path.parent if path.name == "__init__.py" else path
        link = runtime / target.name
        if not link.exists():
            link.symlink_to(target)
    _RUNTIME["dir"] = runtime
    return runtime


def host_numpy_archive(root) -> Path:
    '''This machine's numpy package as a zip archive resource (numpy/ at the top, as in a wheel).

    Not a cp37 wheel: Python 3.11 cannot import one. It stands in for the user's numpy archive so
    that the isolated UDTF really imports numpy from the deployed archive; the cp37 tag checks of
    ``gmi odps deploy`` are tested on wheel layouts separately.'''
    import zipfile

    import numpy

    path = Path(root) / "host-numpy.zip"
    if not path.exists():
        package = Path(numpy.__file__).parent
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
            for file in sorted(package.rglob("*")):
                if file.is_file() and "__pycache__" not in file.parts and "tests" not in file.parts:
                    archive.write(file, "numpy/" + str(file.relative_to(package)))
    return path


def parse_gmi_job(sql: str) -> Dict[str, Any]:
    """Method, params, batch, tiles and tables of GMI's INSERT ... SELECT <udtf>(...) job."""
    match = re.search(r"INSERT OVERWRITE TABLE (\w+) PARTITION \(batch = '([^']*)', run = '([^']*)'\)\s*"
                      r"SELECT (\w+)\('([^']*)', '([^']*)', (.*?)\)\s*AS \((.*?)\)\s*FROM \(\s*"
                      r"SELECT \* FROM (\w+)\s*WHERE batch = '([^']*)'(.*?)DISTRIBUTE BY (.*?)SORT BY (.*?)\) t;",
                      sql, re.S)
    if not match:
        raise ValueError("not a GMI job: {}".format(sql[:200]))
    tiles = [(int(x), int(y)) for x, y in re.findall(r"tile_x = (\d+) AND tile_y = (\d+)", match.group(11))]
    return {"result_table": match.group(1), "batch": match.group(2), "run": match.group(3),
            "function": match.group(4), "method": match.group(5), "params": match.group(6),
            "args": [a.strip().strip("`") for a in match.group(7).split(",")],
            "outputs": [a.strip().strip("`") for a in match.group(8).split(",")],
            "source_table": match.group(9), "source_batch": match.group(10), "tiles": tiles or None,
            "distribute": [c.strip() for c in match.group(12).split(",")],
            "sort": [c.strip() for c in match.group(13).split(",")]}


def gmi_job_rows(fake: FakeMaxCompute, job: Dict[str, Any]) -> List[list]:
    """The UDTF's input rows in DISTRIBUTE/SORT order (one reducer), acquired as naive UTC."""
    from datetime import datetime as _dt
    from datetime import timedelta as _td

    from odps import utils as odps_utils

    table = fake.tables[job["source_table"]]
    names = [n for n, _, _ in table.columns]
    rows = [dict(zip(names, r)) for r in table.partitions.get("batch=" + job["source_batch"], [])]
    if job["tiles"]:
        rows = [r for r in rows if (r["tile_x"], r["tile_y"]) in set(job["tiles"])]
    for r in rows:  # the tunnel reader gave local naive time; the job runs with odps.sql.timezone=UTC
        millis = odps_utils.to_milliseconds(r["acquired"])
        r["acquired"] = _dt(1970, 1, 1) + _td(milliseconds=millis)
    rows.sort(key=lambda r: tuple(r[c] for c in job["sort"]))
    return [[job["method"], job["params"]] + [r[a] for a in job["args"]] for r in rows]


def isolated_udtf_executor(workdir, reducers: int = 2,
                           ) -> Callable[[FakeMaxCompute, FakeInstance, Dict[str, Any]], List[list]]:
    """Run the *deployed* UDTF like MaxCompute would: its resources extracted under
    ``<workdir>/<instance>/work/``; the rows shared out by tile to ``reducers`` instances
    (DISTRIBUTE BY), each sorted (SORT BY) and run in its own ``python -I -S`` process whose
    ``sys.path`` is the standard library + :func:`udf_runtime` (no numpy, no GMI): the kernel and
    numpy can only come from the archives. The reducers' outputs are concatenated last reducer
    first (the order in which MaxCompute writes them is not defined).

    ``fake.last_run`` records per reducer the tiles it got and the files its kernel and numpy
    were imported from."""
    import pickle
    import subprocess
    import sys
    import tarfile
    import zipfile
    import zlib

    root = Path(workdir)
    runtime = udf_runtime(root)

    def run(fake: FakeMaxCompute, inst: FakeInstance, func: Dict[str, Any]) -> List[list]:
        job = parse_gmi_job(inst.sql)
        work = root / inst.id / "work"
        work.mkdir(parents=True)
        module_file = None
        for name in func["resources"]:
            res = fake.resources[name]
            if res["type"] == "py":
                module_file = work / name
                module_file.write_bytes(res["content"])
            elif name.endswith(".zip"):
                zipfile.ZipFile(io.BytesIO(res["content"])).extractall(work / name)
            else:
                with tarfile.open(fileobj=io.BytesIO(res["content"]), mode="r:gz") as archive:
                    archive.extractall(work / name)
        module, _, cls = func["class_type"].rpartition(".")
        assert module_file is not None and module_file.name == module + ".py" and cls == "GmiUdtf"
        shares: List[List[list]] = [[] for _ in range(reducers)]
        rows = gmi_job_rows(fake, job)  # already in SORT BY order; each share keeps it
        tiles = sorted({(args[3], args[4]) for args in rows}, key=lambda t: zlib.crc32(repr(t).encode()))
        reducer_of = {tile: n % reducers for n, tile in enumerate(tiles)}  # hashed order, round robin
        for args in rows:
            shares[reducer_of[(args[3], args[4])]].append(args)
        outputs, runs = [], []
        for number, rows in enumerate(shares):
            if not rows:
                continue
            rows_file = root / inst.id / "rows{}.pkl".format(number)
            out_file = root / inst.id / "out{}.pkl".format(number)
            rows_file.write_bytes(pickle.dumps(rows))
            proc = subprocess.run([sys.executable, "-I", "-S", "-c", _ISOLATED_RUNNER, str(work.parent),
                                   str(module_file), str(rows_file), str(out_file), str(runtime)],
                                  capture_output=True, text=True, timeout=300)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else
                                   "exit {}".format(proc.returncode))
            result = pickle.loads(out_file.read_bytes())
            outputs.insert(0, [list(r) for r in result["rows"]])
            runs.append({"tiles": sorted({(r[3], r[4]) for r in rows}), "files": result["files"],
                         "numpy_before": result["numpy_before"], "path": result["path"],
                         "stderr": proc.stderr})
        fake.last_run = runs
        fake.last_kernel_file = runs[0]["files"].get("gmi_engine.kernel.pipeline") if runs else None
        return [row for share in outputs for row in share]

    return run


# ---------------------------------------------------------------------------------------------
# The local backend's results, computed once per test session


_LOCAL_REFERENCE: Dict[Tuple[str, str], Dict[tuple, Dict[str, Any]]] = {}


def local_reference(workspace, method: str) -> Dict[tuple, Dict[str, Any]]:
    """``run_local(copy of workspace, method, workers=1)`` result cells keyed by (tile_x, tile_y,
    method, output), as ``ResultRow.to_dict()`` gives them; cached for the session."""
    import shutil
    import tempfile
    from pathlib import Path

    from gmi_engine.backends.local import LocalStore
    from gmi_engine.backends.local_runner import run_local

    key = (str(workspace), method)
    if key not in _LOCAL_REFERENCE:
        copy = Path(tempfile.mkdtemp(prefix="gmi-local-ref-")) / "ws"
        shutil.copytree(str(workspace), str(copy))
        run_local(copy, method, workers=1)
        with LocalStore(copy, create=False) as store:
            _LOCAL_REFERENCE[key] = {r.key: r.to_dict() for r in store.iter_results(method)}
        shutil.rmtree(str(copy.parent), ignore_errors=True)
    return _LOCAL_REFERENCE[key]


def fake_numpy_wheel(path, python_tag: str = "cp37", platform: str = "x86_64") -> Path:
    """A stand-in numpy wheel with the layout GMI checks (the real cp37 wheel is not installed
    here; the isolated executor imports the machine's numpy instead)."""
    import zipfile
    from pathlib import Path

    path = Path(path) / "numpy-1.21.6-{0}-{0}m-manylinux_2_12_{1}.manylinux2010_{1}.whl".format(
        python_tag, platform)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("numpy/__init__.py", "")
        archive.writestr("numpy/core/_multiarray_umath.cpython-{}m-{}-linux-gnu.so".format(
            python_tag[2:], platform), b"\x7fELF")
    return path
