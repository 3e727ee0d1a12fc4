"""Estimate pi with Spark and show which workers ran the tasks.

    sparkstack submit demo examples/pi.py -- 12
"""

import random
import socket
import sys
from operator import add

from pyspark.sql import SparkSession


def inside(_: int) -> int:
    x, y = random.random(), random.random()
    return 1 if x * x + y * y <= 1 else 0


def main() -> None:
    partitions = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    samples = 100_000 * partitions
    spark = SparkSession.builder.appName("sparkstack-pi").getOrCreate()
    rdd = spark.sparkContext.parallelize(range(samples), partitions)
    count = rdd.map(inside).reduce(add)
    hosts = sorted(set(rdd.mapPartitions(lambda _: [socket.gethostname()]).collect()))
    print(f"Pi is roughly {4.0 * count / samples:.4f}")
    print(f"tasks ran on: {', '.join(hosts)}")
    spark.stop()


if __name__ == "__main__":
    main()
