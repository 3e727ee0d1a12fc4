"""hdfs_dataset.py PATH write|check [ROWS]: write a deterministic dataset as Parquet to PATH, or
read it back and compare its count and checksums with the same dataset computed again.

Prints one line ``RESULT ok ...`` or ``RESULT BAD ...``, and the hosts whose executors ran tasks
(``HOSTS a,b``). Small Parquet row groups and HDFS blocks (1 MiB), so that the dataset spreads
over many blocks on every DataNode and a decommission has blocks to move.
"""

import socket
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

path, mode = sys.argv[1], sys.argv[2]
rows = int(sys.argv[3]) if len(sys.argv) > 3 else 500_000
spark = (
    SparkSession.builder.appName(f"hdfs-dataset-{mode}")
    .config("spark.hadoop.dfs.blocksize", "1048576")
    .config("spark.hadoop.parquet.block.size", "1048576")
    .getOrCreate()
)


def dataset():
    return (
        spark.range(rows, numPartitions=6)
        .withColumn("v", (F.col("id") * F.col("id")) % 1000003)
        .withColumn("h", F.sha2(F.col("id").cast("string"), 256))
    )


def stats(frame):
    row = frame.agg(F.count("*"), F.sum("v"), F.expr("bit_xor(xxhash64(h))")).first()
    return tuple(row)


def hosts():
    names = spark.sparkContext.parallelize(range(64), 16).map(lambda _: socket.gethostname())
    return sorted(set(names.collect()))


print("HOSTS " + ",".join(hosts()), flush=True)  # first: a test acts once tasks are placed
if mode == "write":
    dataset().write.mode("overwrite").parquet(path)
    print(f"RESULT ok wrote {rows} rows to {path}", flush=True)
else:
    got, want = stats(spark.read.parquet(path)), stats(dataset())
    print(f"RESULT {'ok' if got == want else 'BAD'} read={got} expected={want}", flush=True)
spark.stop()
