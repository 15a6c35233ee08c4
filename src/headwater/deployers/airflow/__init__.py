"""Apache Airflow: one DAG file per flow (:mod:`.compile`)."""
