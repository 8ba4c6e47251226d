// The Spring Boot stand-in for an original pod (tests/fixtures/spring-compat): configured as
// the original is (Jackson default typing on Redis, Hibernate's Asia/Seoul JDBC zone), so
// Spring's own libraries judge what chatd writes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, freePort, sleep } from './chatd.mjs';

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
  let exited = null;
  const exit = new Promise((r) => proc.on('exit', (code, signal) => { exited = { code, signal }; r(exited); }));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90000;
  for (;;) {
    if (exited) throw new Error(`spring-compat exited ${JSON.stringify(exited)}:\n${logs.join('\n')}`);
    try {
      const res = await fetch(`${url}/fixture/health`);
      if (res.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`spring-compat not up within 90 s:\n${logs.join('\n')}`);
    }
    await sleep(250);
  }
  return {
    url, logs,
    async stop() {
      if (!exited) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 20000);
        await exit;
        clearTimeout(timer);
      }
    },
  };
}
