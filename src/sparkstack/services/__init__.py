"""Services on the nodes (Spark, later HDFS and ZooKeeper), each configured over SSH."""
