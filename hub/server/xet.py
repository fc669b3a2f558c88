"""Reading what a Xet client uploads: shards (which chunks of which xorbs make each file) and xorbs (containers of
compressed chunks), so that the hub can rebuild each file and store it like any other large file.

The formats are Hugging Face's Xet protocol (https://huggingface.co/docs/xet): a shard starts with a 48-byte header,
then File Info blocks up to a bookend, then CAS Info blocks up to a bookend; a xorb is a series of chunks, each an
8-byte header (version, compressed size, scheme, uncompressed size) and its bytes. The hub needs no chunk hashes: a
client's xorbs are kept apart from every other uploader's, and each rebuilt file is verified by its sha256.
"""
from __future__ import annotations

import json
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

SHARD_TAG = bytes.fromhex("48465265706f4d6574614461746100556967456a7b815783a5bdd95ccdd14aa9")  # "HFRepoMetaData\0"...
SHARD_HEADER_VERSION = 2
ENTRY = 48  # every shard record is 48 bytes
BOOKEND = b"\xff" * 32
FLAG_VERIFICATION = 1 << 31
FLAG_METADATA_EXT = 1 << 30
MAX_XORB_BYTES = 64 * 1024 * 1024  # the protocol's limit on a serialized xorb
MAX_CHUNK_BYTES = 128 * 1024 + 1024  # an uncompressed chunk is at most 128 KiB


class XetFormatError(ValueError):
    """A shard or xorb that does not follow the format (the client's error: answered 400)."""


def hash_hex(raw: bytes) -> str:
    """A 32-byte Xet hash as the API spells it: each 8-byte word as a little-endian u64, in hex."""
    return "".join(f"{w:016x}" for w in struct.unpack("<4Q", raw))


@dataclass(frozen=True)
class Term:
    xorb: str  # hex, as in the xorb upload URL
    start: int  # chunk index range [start, end) within the xorb
    end: int
    size: int  # uncompressed bytes of that range


@dataclass(frozen=True)
class FileRecipe:
    file_hash: str
    terms: tuple[Term, ...]
    sha256: str | None  # from the metadata extension; the client sends it for git-backed repos

    @property
    def size(self) -> int:
        return sum(t.size for t in self.terms)


def parse_shard(data: bytes) -> list[FileRecipe]:
    """The files a shard upload records (its CAS Info section, the new xorbs' chunk lists, is not needed here)."""
    if len(data) < ENTRY or data[:32] != SHARD_TAG or struct.unpack_from("<Q", data, 32)[0] != SHARD_HEADER_VERSION:
        raise XetFormatError("not a Xet shard (its tag, and header version 2, expected)")
    pos, files = ENTRY, []
    while True:
        if pos + ENTRY > len(data):
            raise XetFormatError("shard ends inside its File Info section")
        file_hash, flags, n = data[pos:pos + 32], *struct.unpack_from("<II", data, pos + 32)
        pos += ENTRY
        if file_hash == BOOKEND:
            return files
        extra = n * (flags & FLAG_VERIFICATION != 0) + (flags & FLAG_METADATA_EXT != 0)
        if n == 0 or pos + (n + extra) * ENTRY > len(data):
            raise XetFormatError("a File Info block of the shard is empty or cut short")
        terms = []
        for i in range(n):
            at = pos + i * ENTRY
            _flags, size, start, end = struct.unpack_from("<IIII", data, at + 32)
            if not start < end:
                raise XetFormatError(f"chunk range [{start}, {end}) is empty")
            terms.append(Term(hash_hex(data[at:at + 32]), start, end, size))
        pos += n * ENTRY
        if flags & FLAG_VERIFICATION:
            pos += n * ENTRY
        sha256 = None
        if flags & FLAG_METADATA_EXT:
            sha256 = hash_hex(data[pos:pos + 32])  # stored in the same word order as every Xet hash
            pos += ENTRY
        files.append(FileRecipe(hash_hex(file_hash), tuple(terms), sha256))


def _decompress(scheme: int, payload: bytes, size: int) -> bytes:
    if scheme == 0:
        return payload
    import lz4.block
    import lz4.frame

    if scheme not in (1, 2):
        raise XetFormatError(f"unknown chunk compression scheme {scheme}")
    try:
        if payload[:4] == b"\x04\x22\x4d\x18":  # an LZ4 frame (what xet-core writes)
            raw = lz4.frame.decompress(payload)
        else:
            raw = lz4.block.decompress(payload, uncompressed_size=size)
    except RuntimeError as e:
        raise XetFormatError(f"a chunk does not decompress: {e}") from None
    if scheme == 2:  # byte grouping: all first bytes of each 4, then all second bytes...
        out, pos = bytearray(len(raw)), 0
        for i in range(4):
            n = len(raw) // 4 + (i < len(raw) % 4)
            out[i::4] = raw[pos:pos + n]
            pos += n
        raw = bytes(out)
    return raw


class XorbReader:
    """Chunks of one serialized xorb, one in memory at a time. Chunk headers are learnt as far as a read needs them:
    what follows the last chunk (a footer some clients append) is never taken for one."""

    def __init__(self, path: Path):
        try:
            self.file = open(path, "rb")
        except FileNotFoundError:
            raise XetFormatError(f"the shard names xorb {path.name}, which was not uploaded") from None
        self.headers: list[tuple[int, int, int, int]] = []  # (offset of data, compressed, scheme, size)
        self._next = 0

    def _learn(self, count: int) -> None:
        while len(self.headers) < count:
            self.file.seek(self._next)
            header = self.file.read(8)
            if len(header) < 8:
                raise XetFormatError(f"xorb {Path(self.file.name).name} has fewer than {count} chunks")
            version, scheme = header[0], header[4]
            compressed = int.from_bytes(header[1:4], "little")
            size = int.from_bytes(header[5:8], "little")
            if version != 0 or size > MAX_CHUNK_BYTES:
                raise XetFormatError(f"chunk {len(self.headers)} of a xorb has an invalid header")
            self.headers.append((self._next + 8, compressed, scheme, size))
            self._next += 8 + compressed

    def chunks(self, start: int, end: int) -> Iterator[bytes]:
        self._learn(end)
        for index in range(start, end):
            offset, compressed, scheme, size = self.headers[index]
            self.file.seek(offset)
            payload = self.file.read(compressed)
            if len(payload) < compressed:
                raise XetFormatError(f"chunk {index} of a xorb is cut short")
            raw = _decompress(scheme, payload, size)
            if len(raw) != size:
                raise XetFormatError(f"chunk {index} of a xorb decompresses to {len(raw)} bytes, not {size}")
            yield raw

    def close(self) -> None:
        self.file.close()


class UploaderChunks:
    """The chunks one uploader's files are built from: the xorbs they sent and, once gc has removed those, the same
    chunks inside the files rebuilt from them. A Xet client remembers what it uploaded (its local shard cache) and
    names those chunks again in later uploads (a fine-tuned model sharing layers with the last one): a map per xorb,
    written when a file is rebuilt, says where each of its chunks lies in which blob.

    Layout under ``root`` (``xet/<user>``): ``xorbs/ab/<hash>`` as sent; ``maps/ab/<hash>`` JSON ranges
    ``[blob id, first chunk, end chunk, offset in the blob, [chunk sizes]]``."""

    def __init__(self, root: Path, blob_path: Callable[[str], Path]):
        self.root, self.blob_path = root, blob_path
        self._readers: dict[str, XorbReader] = {}

    def xorb_path(self, hex_hash: str) -> Path:
        return self.root / "xorbs" / hex_hash[:2] / hex_hash

    def _map_path(self, hex_hash: str) -> Path:
        return self.root / "maps" / hex_hash[:2] / hex_hash

    def _ranges(self, hex_hash: str) -> list:
        try:
            return json.loads(self._map_path(hex_hash).read_text())
        except (FileNotFoundError, ValueError):
            return []

    def _term(self, term: Term) -> tuple[Iterator[bytes], Callable[[], list[int] | None]]:
        """The term's bytes, and (once read) its chunk sizes when they came from a xorb (None from a blob)."""
        path = self.xorb_path(term.xorb)
        if term.xorb in self._readers or path.exists():
            reader = self._readers.setdefault(term.xorb, XorbReader(path))
            return reader.chunks(term.start, term.end), lambda: [h[3] for h in reader.headers[term.start:term.end]]
        for oid, first, end, offset, sizes in self._ranges(term.xorb):
            if first <= term.start and term.end <= end:
                at = offset + sum(sizes[:term.start - first])
                return self._blob_bytes(oid, at, sum(sizes[term.start - first:term.end - first])), lambda: None
        raise XetFormatError(f"the shard names xorb {term.xorb}, which was not uploaded")

    def _blob_bytes(self, oid: str, offset: int, length: int) -> Iterator[bytes]:
        try:
            f = open(self.blob_path(oid), "rb")
        except FileNotFoundError:
            raise XetFormatError("the shard names chunks of a file this hub no longer holds: upload again") from None
        with f:
            f.seek(offset)
            while length > 0:
                block = f.read(min(length, 1024 * 1024))
                if not block:
                    raise XetFormatError("the shard names chunks past the end of the file that held them")
                length -= len(block)
                yield block

    def rebuild(self, recipe: FileRecipe, write: Callable[[bytes], object]) -> list[tuple]:
        """Write the file ``recipe`` describes through ``write``, one chunk in memory at a time; returns where the
        chunks of xorbs landed in it, for :meth:`remember`."""
        placed, offset = [], 0
        try:
            for term in recipe.terms:
                data, sizes = self._term(term)
                produced = 0
                for raw in data:
                    produced += len(raw)
                    write(raw)
                if produced != term.size:
                    raise XetFormatError(f"xorb {term.xorb} chunks [{term.start}, {term.end}) hold {produced} "
                                         f"bytes, the shard says {term.size}")
                if (chunk_sizes := sizes()) is not None:
                    placed.append((term.xorb, term.start, term.end, offset, chunk_sizes))
                offset += produced
        finally:
            for reader in self._readers.values():
                reader.close()
            self._readers.clear()
        return placed

    def remember(self, placed: list[tuple], oid: str) -> None:
        """Record that the chunks ``placed`` by rebuild now lie in blob ``oid``."""
        by_xorb: dict[str, list] = {}
        for xorb, start, end, offset, sizes in placed:
            by_xorb.setdefault(xorb, []).append([oid, start, end, offset, sizes])
        for xorb, ranges in by_xorb.items():
            known = self._ranges(xorb)
            new = [r for r in ranges if not any(k[1] <= r[1] and r[2] <= k[2] for k in known)]
            if new:
                path = self._map_path(xorb)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}")
                tmp.write_text(json.dumps(known + new))
                os.replace(tmp, path)
