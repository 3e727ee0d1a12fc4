"""wordcount.py IN OUT: count the words of IN (any Hadoop URL, e.g. s3a://c/words.txt) and
write ``word<TAB>count`` lines under OUT; prints ``RESULT <distinct words>``."""

import sys

from pyspark.sql import SparkSession

source, dest = sys.argv[1], sys.argv[2]
spark = SparkSession.builder.appName("wordcount").getOrCreate()
counts = (
    spark.sparkContext.textFile(source)
    .flatMap(lambda line: line.split())
    .map(lambda word: (word, 1))
    .reduceByKey(lambda a, b: a + b)
)
counts.map(lambda kv: f"{kv[0]}\t{kv[1]}").saveAsTextFile(dest)
print(f"RESULT {counts.count()}")
spark.stop()
