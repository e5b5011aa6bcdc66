# Rendered by llmspec for support-bot: batch inference with models:/support-bot@champion.
# Inputs digest: sha256:6389eb47b5314172685dbe7a28b5880e325eddcb3f4e600b68c7399b3e969df6
"""Apply models:/support-bot@champion to a table on Spark with mlflow.pyfunc.spark_udf.

    MLFLOW_TRACKING_URI=<the registry> spark-submit predict.py [--input PATH] [--output PATH]

Each Python worker loads the model once, in its own environment (env_manager="local"): the
workers need the model's requirements, as the serving image has them. The output has the input
columns plus answer, sources, latency_ms, tokens_in and tokens_out; an existing output is never
overwritten. A record the model fails on fails its task (Spark retries it); `llmspec predict`
keeps such records instead, one machine's worth at a time.
"""

import argparse

import mlflow
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

MODEL_URI = 'models:/support-bot@champion'
INPUTS = ['question']
RESULT = (
    "answer string, sources array<string>, latency_ms double, tokens_in bigint, tokens_out bigint,"
    " trace_id string"
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=None, required=True)
    parser.add_argument("--output", default=None, required=True)
    parser.add_argument("--format", default='parquet')
    parser.add_argument("--partitions", type=int, default=None)
    args = parser.parse_args(argv)
    spark = SparkSession.builder.appName('llmspec-support-bot-predict').getOrCreate()
    predict = mlflow.pyfunc.spark_udf(spark, MODEL_URI, result_type=RESULT, env_manager="local")
    frame = spark.read.format(args.format).load(args.input)
    if args.partitions:
        frame = frame.repartition(args.partitions)
    answered = frame.withColumn("_answer", predict(F.struct(*[F.col(c) for c in INPUTS])))
    answered = answered.select("*", "_answer.*").drop("_answer")
    answered.write.format(args.format).mode("errorifexists").save(args.output)
    spark.stop()


if __name__ == "__main__":
    main()
