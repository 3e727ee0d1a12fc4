"""A PySpark job that proves the cluster works across hosts: prints one line RESULT {json}.

spark-submit cluster_check.py [PARTITIONS]
"""

import json
import operator
import socket
import sys

from pyspark.sql import SparkSession

parts = int(sys.argv[1]) if len(sys.argv) > 1 else 8
spark = SparkSession.builder.appName("sparkstack-cluster-check").getOrCreate()
sc = spark.sparkContext
total = sc.parallelize(range(1, 100_001), parts).map(lambda x: x * x).reduce(operator.add)
hosts = sc.parallelize(range(parts), parts).map(lambda _: socket.gethostname()).distinct()
words = sc.parallelize(["a b a c b a"] * 1000, parts).flatMap(str.split)
counts = dict(words.map(lambda w: (w, 1)).reduceByKey(operator.add).collect())
result = {"sum_squares": total, "hosts": sorted(hosts.collect()), "counts": counts}
print("RESULT " + json.dumps(result, sort_keys=True), flush=True)
spark.stop()
