"""S3 access shared by the scraper, the demo uploader and the ingestion component."""
