# nginx.sh - the nginx the benchmarks compare against, in one place:
# sourced by run.sh and reload.sh. nginx_conf DIR PORT WORKERS LOGLEVEL
# writes DIR/nginx.conf: a fixed 13-byte answer on 127.0.0.1:PORT,
# keep-alive without a request limit, every path in DIR.
nginx_conf() {
	cat > "$1/nginx.conf" <<-EOF
	worker_processes $3;
	daemon off;
	pid $1/nginx.pid;
	error_log $1/error.log $4;
	events { worker_connections 1024; }
	http {
	  access_log off;
	  client_body_temp_path $1/body;
	  proxy_temp_path $1/proxy;
	  fastcgi_temp_path $1/fastcgi;
	  uwsgi_temp_path $1/uwsgi;
	  scgi_temp_path $1/scgi;
	  keepalive_requests 1000000;
	  server {
	    listen 127.0.0.1:$2;
	    location / { default_type text/plain; return 200 "Hello world!\n"; }
	  }
	}
	EOF
}
