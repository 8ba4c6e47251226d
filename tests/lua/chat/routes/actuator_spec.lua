describe("chat.routes.actuator", function()
  local fake, request

  before_each(function()
    local fc = require "fake_chat"
    fake = fc.install()
    local app = require "chat"
    request = function(...) return fc.request(app, ...) end
    fake.on_sql("SELECT 1", function() return { { ok = 1 } } end)
  end)

  it("reports UP with the real state of PostgreSQL and Redis", function()
    local status, _, headers, raw = request("GET", "/actuator/health")
    assert.equal(200, status)
    assert.equal("application/json", headers["Content-Type"])
    assert.equal('{"status":"UP","components":{"db":{"status":"UP","details":{"database":"PostgreSQL",'
      .. '"validationQuery":"isValid()"}},"redis":{"status":"UP","details":{"version":"7.0.15"}}}}', raw)
    assert.equal("SELECT 1 AS ok", fake.pg_calls[1].sql)
  end)

  it("reports DOWN and 503 when a dependency fails", function()
    fake.redis_down = true
    local status, body = request("GET", "/actuator/health")
    assert.equal(503, status)
    assert.equal("DOWN", body.status)
    assert.equal("UP", body.components.db.status)
    assert.equal("DOWN", body.components.redis.status)
    assert.is_string(body.components.redis.details.error)

    fake.redis_down = false
    fake.pg_down("08006")
    status, body = request("GET", "/actuator/health")
    assert.equal(503, status)
    assert.equal("DOWN", body.components.db.status)
  end)

  it("keeps liveness UP regardless of dependencies", function()
    fake.pg_down("08006")
    local status, _, _, raw = request("GET", "/actuator/health/liveness")
    assert.equal(200, status)
    assert.equal('{"status":"UP"}', raw)
  end)

  it("is ready while PostgreSQL answers and no stop has begun", function()
    local status, _, _, raw = request("GET", "/actuator/health/readiness")
    assert.equal(200, status)
    assert.equal('{"status":"UP"}', raw)

    fake.stopping = true
    status, _, _, raw = request("GET", "/actuator/health/readiness")
    assert.equal(503, status)
    assert.equal('{"status":"OUT_OF_SERVICE"}', raw)

    fake.stopping = false
    fake.pg_down("08006")
    status, _, _, raw = request("GET", "/actuator/health/readiness")
    assert.equal(503, status)
    assert.equal('{"status":"OUT_OF_SERVICE"}', raw)
  end)

  it("serves the core's Prometheus text with the exposition format's content type", function()
    local status, _, headers, raw = request("GET", "/actuator/prometheus")
    assert.equal(200, status)
    assert.equal("text/plain; version=0.0.4; charset=utf-8", headers["Content-Type"])
    assert.equal("# fake metrics\n", raw)
  end)
end)
