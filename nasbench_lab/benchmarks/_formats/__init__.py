"""Private readers (and, for fixtures, writers) of the official benchmark file formats.

* :mod:`.tfrecord`: TFRecord framing with both CRC-32C checks (NAS-Bench-101);
* :mod:`.protobuf`: the NAS-Bench-101 ``ModelMetrics`` protobuf messages;
* :mod:`.xgboost_legacy`: the pickled 2020 XGBoost boosters of NAS-Bench-301, read
  without running pickled code, and their legacy binary model converted to JSON.

The benchmark modules (``nb101``, ``nb301``) and ``testing`` use them; nothing here is
public API.
"""
