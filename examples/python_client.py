#!/usr/bin/env python3
"""A kinbox client written only from docs/protocol.md, in Python with libsodium via ctypes.

Registers two accounts, makes them friends, sends an end-to-end encrypted message from
one to the other, receives and acks it, and checks the delivered receipt.

usage: python_client.py HOST:PORT
Exits 0 on success; prints what failed otherwise.
"""
import ctypes
import ctypes.util
import os
import socket
import struct
import sys
import time

sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
assert sodium.sodium_init() >= 0


def buf(n):
    return ctypes.create_string_buffer(n)


def kx_keypair():
    pk, sk = buf(32), buf(32)
    sodium.crypto_kx_keypair(pk, sk)
    return pk.raw, sk.raw


def sign_keypair():
    pk, sk = buf(32), buf(64)
    sodium.crypto_sign_keypair(pk, sk)
    return pk.raw, sk.raw


def box_keypair():
    pk, sk = buf(32), buf(32)
    sodium.crypto_box_keypair(pk, sk)
    return pk.raw, sk.raw


def blake2b(data):
    out = buf(32)
    sodium.crypto_generichash(out, ctypes.c_size_t(32), data, ctypes.c_ulonglong(len(data)), None,
                              ctypes.c_size_t(0))
    return out.raw


def sign(message, sk):
    sig = buf(64)
    sodium.crypto_sign_detached(sig, None, message, ctypes.c_ulonglong(len(message)), sk)
    return sig.raw


def box(plain, recipient_pk, sender_sk):
    nonce = os.urandom(24)
    out = buf(len(plain) + 16)
    assert sodium.crypto_box_easy(out, plain, ctypes.c_ulonglong(len(plain)), nonce, recipient_pk,
                                  sender_sk) == 0
    return nonce + out.raw


def box_open(sealed, sender_pk, recipient_sk):
    nonce, ct = sealed[:24], sealed[24:]
    out = buf(len(ct) - 16)
    if sodium.crypto_box_open_easy(out, ct, ctypes.c_ulonglong(len(ct)), nonce, sender_pk,
                                   recipient_sk) != 0:
        return None
    return out.raw


class Connection:
    """Records, the handshake of protocol.md section 2 and sealed records of section 3."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.inbuf = b""
        self.next_id = 1
        self.pushes = []
        ce_pk, ce_sk = kx_keypair()
        # Record ciphers, most preferred first: AES-256-GCM (2) where the CPU has AES-NI,
        # ChaCha20-Poly1305 (1) always.
        offered = [2, 1] if sodium.crypto_aead_aes256gcm_is_available() else [1]
        self._write_record(self._frame(0x01, 0, ce_pk + bytes([len(offered)] + offered)))
        ftype, _, body = self._parse(self._read_record())
        assert ftype == 0x02, "expected server_hello"
        cluster, se_pk = body[:32], body[32:64]
        (self.max_frame,) = struct.unpack(">I", body[64:68])
        cipher = body[68]
        assert cipher in offered, "the server picked a cipher we did not offer"
        name = "aes256gcm" if cipher == 2 else "chacha20poly1305_ietf"
        self._encrypt = getattr(sodium, "crypto_aead_%s_encrypt" % name)
        self._decrypt = getattr(sodium, "crypto_aead_%s_decrypt" % name)
        self.transcript = blake2b(ce_pk + cluster + se_pk)
        rx1, tx1, rx2, tx2 = buf(32), buf(32), buf(32), buf(32)
        assert sodium.crypto_kx_client_session_keys(rx1, tx1, ce_pk, ce_sk, cluster) == 0
        assert sodium.crypto_kx_client_session_keys(rx2, tx2, ce_pk, ce_sk, se_pk) == 0
        self.k_c2s = blake2b(b"c2s" + tx1.raw + tx2.raw + self.transcript)
        self.k_s2c = blake2b(b"s2c" + rx1.raw + rx2.raw + self.transcript)
        self.tx_counter = 0
        self.rx_counter = 0
        self.cluster_key = cluster

    @staticmethod
    def _frame(ftype, request_id, body):
        return struct.pack(">BBI", 1, ftype, request_id) + body

    @staticmethod
    def _parse(frame):
        version, ftype, request_id = struct.unpack(">BBI", frame[:6])
        assert version == 1
        return ftype, request_id, frame[6:]

    def _write_record(self, payload):
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)

    def _read_exact(self, n):
        while len(self.inbuf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.inbuf += chunk
        out, self.inbuf = self.inbuf[:n], self.inbuf[n:]
        return out

    def _read_record(self):
        (length,) = struct.unpack(">I", self._read_exact(4))
        return self._read_exact(length)

    @staticmethod
    def _nonce(counter):
        return b"\0" * 4 + struct.pack("<Q", counter)

    def send_frame(self, ftype, body, request_id=None):
        if request_id is None:
            request_id = self.next_id
            self.next_id += 1
        plain = self._frame(ftype, request_id, body)
        prefix = struct.pack(">I", len(plain) + 16)
        out = buf(len(plain) + 16)
        out_len = ctypes.c_ulonglong(0)
        self._encrypt(
            out, ctypes.byref(out_len), plain, ctypes.c_ulonglong(len(plain)), prefix,
            ctypes.c_ulonglong(4), None, self._nonce(self.tx_counter), self.k_c2s)
        self.tx_counter += 1
        self.sock.sendall(prefix + out.raw)
        return request_id

    def read_frame(self):
        (length,) = struct.unpack(">I", self._read_exact(4))
        sealed = self._read_exact(length)
        prefix = struct.pack(">I", length)
        plain = buf(length - 16)
        plain_len = ctypes.c_ulonglong(0)
        rc = self._decrypt(
            plain, ctypes.byref(plain_len), None, sealed, ctypes.c_ulonglong(length), prefix,
            ctypes.c_ulonglong(4), self._nonce(self.rx_counter), self.k_s2c)
        assert rc == 0, "a server record failed to open"
        self.rx_counter += 1
        return self._parse(plain.raw)

    def request(self, ftype, body=b""):
        rid = self.send_frame(ftype, body)
        while True:
            rtype, rrid, rbody = self.read_frame()
            if rtype == 0x40:
                self.pushes.append(parse_mail(rbody))
                continue
            if rrid != rid:
                continue
            if rtype == 0x03:
                code, = struct.unpack(">H", rbody[:2])
                raise RuntimeError("error %d: %s" % (code, rbody[6:].decode()))
            return rtype, rbody

    def next_mail(self, timeout=5.0):
        if self.pushes:
            return self.pushes.pop(0)
        self.sock.settimeout(timeout)
        while True:
            rtype, _, body = self.read_frame()
            if rtype == 0x40:
                return parse_mail(body)


def s(text):
    data = text.encode()
    return struct.pack(">I", len(data)) + data


def blob(data):
    return struct.pack(">I", len(data)) + data


def parse_mail(body):
    kind, sender = struct.unpack(">BQ", body[:9])
    msgid = body[9:25]
    (stored_at, length) = struct.unpack(">QI", body[25:37])
    return kind, sender, msgid, stored_at, body[37:37 + length]


class User:
    def __init__(self, host, port, name):
        self.sign_pk, self.sign_sk = sign_keypair()
        self.box_pk, self.box_sk = box_keypair()
        conn = Connection(host, port)
        # Parents (role 2): a child's friends would wait for its linked parent's approval.
        _, body = conn.request(0x10, s(name) + s("1985-05-05") + b"\x02" + self.sign_pk +
                               self.box_pk)
        (self.id,) = struct.unpack(">Q", body)
        self.conn = Connection(host, port)
        proof = sign(b"kinbox-login-v1" + self.conn.transcript + struct.pack(">Q", self.id),
                     self.sign_sk)
        rtype, body = self.conn.request(0x12, struct.pack(">Q", self.id) + proof)
        assert rtype == 0x13 and struct.unpack(">Q", body[:8])[0] == self.id


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    port = int(port)
    ann, bo = User(host, port, "Ann"), User(host, port, "Bo")
    ann.conn.request(0x20, struct.pack(">Q", bo.id))
    for _ in range(50):
        try:
            bo.conn.request(0x21, struct.pack(">Q", ann.id))
            break
        except RuntimeError:
            time.sleep(0.05)
    time.sleep(0.1)
    _, key_body = ann.conn.request(0x25, struct.pack(">Q", bo.id))
    bo_box = key_body[8:40]
    msgid = struct.pack(">Q", int(time.time() * 1000))[2:] + os.urandom(10)
    plaintext = b"\x01\x01" + "hello from python".encode()
    rtype, body = ann.conn.request(0x30, struct.pack(">Q", bo.id) + msgid +
                                   blob(box(plaintext, bo_box, ann.box_sk)))
    assert rtype == 0x31 and body == msgid, "expected accepted"
    kind, sender, got_id, _, payload = bo.conn.next_mail()
    assert kind == 1 and sender == ann.id and got_id == msgid
    _, ann_key_body = bo.conn.request(0x25, struct.pack(">Q", ann.id))
    opened = box_open(payload, ann_key_body[8:40], bo.box_sk)
    assert opened == plaintext, "could not open the message"
    bo.conn.request(0x32, struct.pack(">HBQ", 1, 1, ann.id) + msgid)
    kind, sender, got_id, _, _ = ann.conn.next_mail()
    assert kind == 2 and sender == bo.id and got_id == msgid, "expected a delivered receipt"
    ann.conn.request(0x32, struct.pack(">HBQ", 1, 2, bo.id) + msgid)
    print("python client: registered, befriended, sent, received, acked, got the receipt")


if __name__ == "__main__":
    main()
