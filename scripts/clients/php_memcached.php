<?php
// PHP php-memcached (Debian php-memcached, libmemcached based): the same session twice, once over
// the text protocol and once over the binary protocol (Memcached::OPT_BINARY_PROTOCOL), each on its
// own connection: set/get/getMulti, add/replace, cas (get with Memcached::GET_EXTENDED), increment/
// decrement (binary: with an initial value), append/prepend, delete/deleteMulti, touch, setMulti,
// getDelayed + fetchAll, noreply (OPT_NOREPLY) on a third connection, 120 KB values.
//
// Usage: php php_memcached.php HOST PORT CLIENT_LOG_JSON
// The client logs nothing per request; its own view goes to CLIENT_LOG_JSON: calls per method and
// hits/misses of the reads as the client returned them (per key). The truth file comes from
// memcached -vv (vv_truth.py); client_log.py checks the two agree on reads.
[$_, $host, $port, $logPath] = $argv;
mt_srand(5);
$calls = [];
$reads = ['hits' => 0, 'misses' => 0];
$errors = [];

function c(string $m): void { global $calls; $calls[$m] = ($calls[$m] ?? 0) + 1; }
function rd(int $n, int $hit): void { global $reads; $reads['hits'] += $hit; $reads['misses'] += $n - $hit; }
function err(Memcached $m): void {
    global $errors;
    $rc = $m->getResultCode();
    if ($rc !== Memcached::RES_SUCCESS && $rc !== Memcached::RES_NOTFOUND && $rc !== Memcached::RES_NOTSTORED
        && $rc !== Memcached::RES_DATA_EXISTS && $rc !== Memcached::RES_END) {
        $errors[$m->getResultMessage()] = ($errors[$m->getResultMessage()] ?? 0) + 1;
    }
}

function session(string $host, int $port, bool $binary): void {
    $p = $binary ? 'b:' : 't:';
    $m = new Memcached();
    $m->setOption(Memcached::OPT_BINARY_PROTOCOL, $binary);
    $m->setOption(Memcached::OPT_COMPRESSION, false);  // append/prepend need raw values
    $m->setOption(Memcached::OPT_TCP_NODELAY, true);
    $m->addServer($host, $port);
    for ($i = 0; $i < 15; $i++) { c('set'); $m->set("{$p}k$i", "value-$i-" . str_repeat('q', $i * 9)); err($m); }
    for ($i = 0; $i < 15; $i++) { c('get'); $v = $m->get("{$p}k$i"); rd(1, $v === false ? 0 : 1); err($m); }
    for ($i = 0; $i < 4; $i++) { c('get'); $v = $m->get("{$p}miss$i"); rd(1, $v === false ? 0 : 1); err($m); }
    for ($r = 0; $r < 2; $r++) {
        $keys = [];
        for ($i = 0; $i < 20; $i++) $keys[] = $i % 4 === 0 ? "{$p}gm-miss$r-$i" : "{$p}k" . (($i + $r) % 15);
        c('getMulti');
        $h = $m->getMulti($keys);
        // per key as sent: libmemcached sends a repeated key twice, and the server answers both
        $hit = 0;
        foreach ($keys as $k) if (is_array($h) && array_key_exists($k, $h)) $hit++;
        rd(count($keys), $hit);
        err($m);
    }
    // cas: read the token, a stale token (EXISTS), the right one (STORED)
    c('get');
    $g = $m->get("{$p}k1", null, Memcached::GET_EXTENDED);
    rd(1, $g === false ? 0 : 1);
    c('cas'); $m->cas($g['cas'] + 1000, "{$p}k1", 'stale'); err($m);
    c('cas'); $m->cas($g['cas'], "{$p}k1", 'k1-cas'); err($m);
    c('add'); $m->add("{$p}add1", 'first'); err($m);
    c('add'); $m->add("{$p}add1", 'second'); err($m);
    c('replace'); $m->replace("{$p}add1", 'third'); err($m);
    c('replace'); $m->replace("{$p}nope", 'never'); err($m);
    c('append'); $m->append("{$p}k2", '-tail'); err($m);
    c('prepend'); $m->prepend("{$p}k2", 'head-'); err($m);
    c('append'); $m->append("{$p}app-missing", 'x'); err($m);
    c('set'); $m->set("{$p}ctr", 10); err($m);
    c('increment'); $m->increment("{$p}ctr", 5); err($m);
    c('decrement'); $m->decrement("{$p}ctr", 3); err($m);
    c('increment'); $m->increment("{$p}ctr-missing", 1); err($m);
    if ($binary) { c('increment'); $m->increment("{$p}ctr-init", 1, 100); err($m); }
    c('touch'); $m->touch("{$p}k3", 300); err($m);
    c('touch'); $m->touch("{$p}touch-missing", 300); err($m);
    c('setMulti');
    $items = [];
    for ($i = 0; $i < 12; $i++) $items["{$p}sm$i"] = "multi-$i";
    $m->setMulti($items); err($m);
    c('deleteMulti'); $m->deleteMulti(["{$p}sm0", "{$p}sm1", "{$p}dm-missing"]); err($m);
    c('getDelayed');
    $dk = ["{$p}sm0", "{$p}sm2", "{$p}sm3", "{$p}k4", "{$p}gd-miss"];
    $m->getDelayed($dk);
    c('fetchAll');
    $all = $m->fetchAll();
    rd(count($dk), is_array($all) ? count($all) : 0);
    $big = random_bytes(120000);
    c('set'); $m->set("{$p}big120k", $big); err($m);
    c('get'); $v = $m->get("{$p}big120k"); rd(1, $v === false ? 0 : 1);
    if ($v !== $big) throw new Exception('big value mismatch');
    c('getMulti');
    $h = $m->getMulti(["{$p}big120k", "{$p}k5", "{$p}big-miss"]);
    rd(3, is_array($h) ? count($h) : 0);
    c('delete'); $m->delete("{$p}k6"); err($m);
    c('delete'); $m->delete("{$p}k6"); err($m);
    c('get'); $v = $m->get("{$p}k6"); rd(1, $v === false ? 0 : 1);
    c('getVersion'); $m->getVersion();
    $m->quit();

    // noreply: stores go out with noreply (text) or as quiet opcodes (binary)
    $n = new Memcached();
    $n->setOption(Memcached::OPT_BINARY_PROTOCOL, $binary);
    $n->setOption(Memcached::OPT_NOREPLY, true);
    $n->addServer($host, $port);
    for ($i = 0; $i < 8; $i++) { c('set'); $n->set("{$p}nr$i", "noreply-$i"); }
    c('delete'); $n->delete("{$p}nr0");
    $n->quit();
    $r = new Memcached();
    $r->setOption(Memcached::OPT_BINARY_PROTOCOL, $binary);
    $r->addServer($host, $port);
    $nk = [];
    for ($i = 0; $i < 8; $i++) $nk[] = "{$p}nr$i";
    c('getMulti');
    $h = $r->getMulti($nk);
    rd(count($nk), is_array($h) ? count($h) : 0);
    $r->quit();
}

session($host, (int)$port, false);
session($host, (int)$port, true);
ksort($calls);
file_put_contents($logPath, json_encode([
    'client' => 'php-memcached ' . phpversion('memcached') . ' (PHP ' . PHP_VERSION . ', libmemcached ' . Memcached::LIBMEMCACHED_VERSION_HEX . ')',
    'calls' => $calls, 'reads' => $reads, 'errors' => (object)$errors], JSON_PRETTY_PRINT) . "\n");
