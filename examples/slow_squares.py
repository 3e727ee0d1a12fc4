"""A job that takes a while: 12 tasks, each sleeping SECONDS (the first argument) before it
returns the square of its number. Prints ``job started`` once running and ``RESULT <sum>``
(506) at the end, so a test can lose a master in the middle and check every task ran once."""

import sys
import time

from pyspark.sql import SparkSession

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
spark = SparkSession.builder.appName("slow-squares").getOrCreate()
print("job started", flush=True)


def work(i: int) -> int:
    time.sleep(seconds)
    return i * i


print("RESULT", spark.sparkContext.parallelize(range(12), 12).map(work).sum(), flush=True)
