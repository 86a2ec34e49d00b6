#!/usr/bin/env python3
"""Reads TensorBoard event files independently of Smelt: Google's protobuf runtime parses each record under the
tensorflow.Event schema (field numbers as in TensorFlow's event.proto and summary.proto, the fields scalars use), and
every TFRecord frame's masked CRC-32C is checked with a CRC written here. Prints one JSON object per event; a record
that Google's runtime would re-encode differently (unknown fields, wrong wire types) is an error.

Usage: read_tfevents.py FILE   (needs python3-protobuf; Smelt's tests call it with /usr/bin/python3)
"""
import json
import struct
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def event_class():
    F = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="smelt_tfevents_check.proto", package="tensorflow", syntax="proto3")
    summary = proto.message_type.add(name="Summary")
    value = summary.nested_type.add(name="Value")
    value.field.add(name="node_name", number=7, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    value.field.add(name="tag", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    value.oneof_decl.add(name="value")  # summary.proto: simple_value sits in `oneof value`, so a 0.0 is still written
    value.field.add(name="simple_value", number=2, type=F.TYPE_FLOAT, label=F.LABEL_OPTIONAL, oneof_index=0)
    summary.field.add(name="value", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED, type_name=".tensorflow.Summary.Value")
    event = proto.message_type.add(name="Event")
    event.field.add(name="wall_time", number=1, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    event.field.add(name="step", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    event.oneof_decl.add(name="what")  # event.proto: file_version, graph_def and summary are one `oneof what`
    event.field.add(name="file_version", number=3, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL, oneof_index=0)
    event.field.add(name="graph_def", number=4, type=F.TYPE_BYTES, label=F.LABEL_OPTIONAL, oneof_index=0)
    event.field.add(name="summary", number=5, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL, type_name=".tensorflow.Summary", oneof_index=0)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    descriptor = pool.FindMessageTypeByName("tensorflow.Event")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


def main(path: str) -> int:
    Event = event_class()
    data = open(path, "rb").read()
    offset, index = 0, 0
    while offset < len(data):
        if len(data) - offset < 12:
            raise SystemExit(f"{path}: record {index}: truncated header")
        header = data[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[offset + 8:offset + 12])
        if masked(crc32c(header)) != length_crc:
            raise SystemExit(f"{path}: record {index}: length CRC mismatch")
        payload = data[offset + 12:offset + 12 + length]
        (payload_crc,) = struct.unpack("<I", data[offset + 12 + length:offset + 16 + length])
        if len(payload) != length or masked(crc32c(payload)) != payload_crc:
            raise SystemExit(f"{path}: record {index}: payload CRC mismatch")
        event = Event()
        event.ParseFromString(payload)
        if event.SerializeToString() != payload:
            raise SystemExit(f"{path}: record {index}: protobuf re-encodes the event differently (unknown fields or wire types)")
        print(json.dumps({
            "wall_time": event.wall_time,
            "step": event.step,
            "file_version": event.file_version if event.WhichOneof("what") == "file_version" else None,
            "scalars": [[v.tag, v.simple_value] for v in event.summary.value],
        }))
        offset += 16 + length
        index += 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
