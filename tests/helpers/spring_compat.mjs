// The Spring Boot stand-in for an original pod (tests/fixtures/spring-compat): configured as
// the original is (Jackson default typing on Redis, Hibernate's Asia/Seoul JDBC zone), so
// Spring's own libraries judge what chatd writes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, freePort } from './chatd.mjs';
import { watchExit, waitServing } from './process.mjs';

const JAR = process.env.SPRING_COMPAT_JAR
  ?? path.join(REPO, '.dev', 'spring-compat', 'target', 'spring-compat.jar');

export function springCompatAvailable() {
  return fs.existsSync(JAR);
}

// Starts the fixture jar; resolves once /fixture/health says UP (a JVM start: ~10 s).
// ddlAuto: the original's production ConfigMap sets SPRING_JPA_HIBERNATE_DDL_AUTO=validate
// (its application.yml says update), so by default Hibernate checks chatd's schema as a
// production pod would on a rollback.
export async function startSpringCompat({ databaseUrl, redisPort, tz, jdbcZone = 'Asia/Seoul', ddlAuto = 'validate' }) {
  const port = await freePort();
  const logs = [];
  const proc = spawn('java', ['-Xmx256m', '-XX:TieredStopAtLevel=1', '-jar', JAR,
    `--server.port=${port}`, '--server.address=127.0.0.1',
    `--spring.datasource.url=${databaseUrl}`,
    `--spring.datasource.username=${process.env.SPRING_DATASOURCE_USERNAME}`,
    `--spring.datasource.password=${process.env.SPRING_DATASOURCE_PASSWORD}`,
    '--spring.data.redis.host=127.0.0.1', `--spring.data.redis.port=${redisPort}`,
    `--spring.jpa.properties.hibernate.jdbc.time_zone=${jdbcZone}`, `--spring.jpa.hibernate.ddl-auto=${ddlAuto}`],
  { env: { ...process.env, TZ: tz }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const s of [proc.stdout, proc.stderr]) {
    s.setEncoding('utf8');
    s.on('data', (d) => logs.push(...d.split('\n').filter(Boolean)));
  }
  const child = watchExit(proc);
  const url = `http://127.0.0.1:${port}`;
  await waitServing('spring-compat', proc, child, async () => (await fetch(`${url}/fixture/health`)).status === 200,
    { timeoutMs: 90000, everyMs: 250, logs });
  return {
    url, logs,
    async stop() { await child.stop(20000); },
  };
}
