# Perl Cache::Memcached::Fast (Debian libcache-memcached-fast-perl; text protocol) over two
# servers: get/get_multi/gets/gets_multi/gat/gats, cas, set/add/replace/append/prepend and their
# _multi forms (pipelined per server), incr/decr, delete, touch, noreply (void context with
# noreply => 1), nowait (void calls sent without waiting, answers read later), 200 KB values.
#
# Usage: perl cmfast_client.pl SERVER_A SERVER_B CLIENT_LOG_JSON
# The client logs nothing per request; its own view goes to CLIENT_LOG_JSON: calls per method and
# hits/misses of the reads as the client returned them (per key). The truth file comes from
# memcached -vv of both servers (vv_truth.py); client_log.py checks the two agree on reads.
use strict;
use warnings;
use Cache::Memcached::Fast;
use JSON::PP;

my ($sa, $sb, $log_path) = @ARGV;
srand(11);
my (%calls, %reads);
$reads{hits} = 0;
$reads{misses} = 0;

# noreply per server: void-context stores, deletes, incr/decr, touch carry "noreply"
my $mc = Cache::Memcached::Fast->new({
    servers => [{ address => $sa, noreply => 1 }, { address => $sb, noreply => 1 }],
    namespace => 'pl:', connect_timeout => 2, io_timeout => 5, compress_threshold => -1,
});

sub count_read { my ($n, $hit) = @_; $reads{hits} += $hit; $reads{misses} += $n - $hit; }

# stores, answered (scalar context)
for my $i (0 .. 29) {
    $calls{set}++;
    my $ok = $mc->set("k$i", "value-$i-" . ('p' x ($i * 5)));
}
for my $i (0 .. 29) { $calls{get}++; my $v = $mc->get("k$i"); count_read(1, defined $v ? 1 : 0); }
for my $i (0 .. 4) { $calls{get}++; my $v = $mc->get("miss$i"); count_read(1, defined $v ? 1 : 0); }
# get_multi: one "get k1 k2 ..." per server, sent to both before reading either
for my $round (0 .. 2) {
    my @keys = map { $_ % 3 == 0 ? "gm-miss$round-$_" : "k" . (($_ + $round) % 30) } 0 .. 24;
    $calls{get_multi}++;
    my $h = $mc->get_multi(@keys);
    my %u = map { $_ => 1 } @keys;
    count_read(scalar(keys %u), scalar(keys %$h));
}
# gets / cas
$calls{gets}++;
my $cv = $mc->gets('k1');
count_read(1, defined $cv ? 1 : 0);
$calls{cas}++;
my $r1 = $mc->cas('k1', $cv->[0], 'k1-cas');             # STORED
$calls{cas}++;
my $r2 = $mc->cas('k1', $cv->[0], 'k1-stale');           # EXISTS
$calls{cas}++;
my $r3 = $mc->cas('cas-missing', 12345, 'x');            # NOT_FOUND
$calls{gets_multi}++;
my $gm = $mc->gets_multi('k2', 'k3', 'k4', 'gets-miss');
count_read(4, scalar(keys %$gm));
$calls{cas_multi}++;
my @cr = $mc->cas_multi(map { [$_, $gm->{$_}[0], "$_-casm"] } sort keys %$gm);
# add / replace / append / prepend
$calls{add}++;     my $a1 = $mc->add('add1', 'first');
$calls{add}++;     my $a2 = $mc->add('add1', 'second');     # NOT_STORED
$calls{replace}++; my $p1 = $mc->replace('add1', 'third');
$calls{replace}++; my $p2 = $mc->replace('nope', 'never');  # NOT_STORED
$calls{append}++;  my $ap = $mc->append('k5', '-tail');
$calls{prepend}++; my $pp = $mc->prepend('k5', 'head-');
$calls{append}++;  my $am = $mc->append('app-missing', 'x'); # NOT_STORED
# incr / decr
$calls{set}++;  my $s0 = $mc->set('ctr', 10);
$calls{incr}++; my $i1 = $mc->incr('ctr', 5);
$calls{decr}++; my $d1 = $mc->decr('ctr', 3);
$calls{decr}++; my $d2 = $mc->decr('ctr', 100);            # floors at 0
$calls{incr}++; my $i2 = $mc->incr('ctr-missing');         # NOT_FOUND
$calls{incr}++; my $i3 = $mc->incr('k6');                  # CLIENT_ERROR non-numeric
$calls{incr_multi}++; my @im = $mc->incr_multi('ctr', ['ctr', 2], 'ctr-missing');
# touch / gat / gats
$calls{touch}++; my $t1 = $mc->touch('k7', 300);
$calls{touch}++; my $t2 = $mc->touch('touch-missing', 300);
$calls{gat}++;   my $g1 = $mc->gat(600, 'k8');  count_read(1, defined $g1 ? 1 : 0);
$calls{gat}++;   my $g2 = $mc->gat(600, 'gat-missing'); count_read(1, defined $g2 ? 1 : 0);
$calls{gats}++;  my $g3 = $mc->gats(600, 'k9'); count_read(1, defined $g3 ? 1 : 0);
$calls{gat_multi}++;
my $gam = $mc->gat_multi(600, 'k10', 'k11', 'k12', 'gatm-miss');
count_read(4, scalar(keys %$gam));
# set_multi / delete_multi / touch_multi: pipelined per server
$calls{set_multi}++;
my @sm = $mc->set_multi(map { ["sm$_", "multi-$_"] } 0 .. 19);
$calls{delete_multi}++;
my @dm = $mc->delete_multi('sm0', 'sm1', 'sm2', 'dm-missing');
$calls{touch_multi}++;
my @tm = $mc->touch_multi(['sm3', 100], ['sm4', 100], ['tm-missing', 100]);
# noreply: void context
$calls{set}++ , $mc->set("nr$_", "noreply-$_") for 0 .. 9;
$calls{add}++;     $mc->add('nr0', 'dup');                  # NOT_STORED, not said
$calls{delete}++;  $mc->delete('nr1');
$calls{delete}++;  $mc->delete('nr-missing');               # NOT_FOUND, not said
$calls{incr}++;    $mc->incr('ctr', 7);
$calls{touch}++;   $mc->touch('nr2', 50);
$calls{set_multi}++;
$mc->set_multi(map { ["nrm$_", "nrm-$_"] } 0 .. 9);
$calls{get_multi}++;
my @nk = ((map { "nr$_" } 0 .. 9), (map { "nrm$_" } 0 .. 9));
my $nh = $mc->get_multi(@nk);
count_read(scalar(@nk), scalar(keys %$nh));
# large values: 200 KB, random bytes
my $big = join('', map { chr(int(rand(256))) } 1 .. 200_000);
$calls{set}++; my $bs = $mc->set('big200k', $big);
$calls{get}++; my $bg = $mc->get('big200k'); count_read(1, defined $bg ? 1 : 0);
die "big value mismatch" unless defined $bg && $bg eq $big;
$calls{get_multi}++;
my $bh = $mc->get_multi('big200k', 'k13', 'big-miss');
count_read(3, scalar(keys %$bh));
# deletes then misses
$calls{delete}++; my $x1 = $mc->delete('k14');
$calls{delete}++; my $x2 = $mc->delete('k14');              # NOT_FOUND
$calls{get}++;    my $x3 = $mc->get('k14'); count_read(1, defined $x3 ? 1 : 0);
$calls{server_versions}++; my $sv = $mc->server_versions;
$mc->disconnect_all;

# nowait: void calls go out without waiting, their answers are read before the next answered call
my $nw = Cache::Memcached::Fast->new({ servers => [$sa, $sb], namespace => 'pl:', nowait => 1 });
$calls{set}++, $nw->set("nw$_", "nowait-$_") for 0 .. 19;
$calls{delete}++; $nw->delete('nw0');
$calls{nowait_push}++; $nw->nowait_push;
$calls{get_multi}++;
my @wk = map { "nw$_" } 0 .. 19;
my $wh = $nw->get_multi(@wk);
count_read(scalar(@wk), scalar(keys %$wh));
$nw->disconnect_all;

open(my $fh, '>', $log_path) or die;
print $fh JSON::PP->new->canonical->pretty->encode({
    client => "Cache::Memcached::Fast $Cache::Memcached::Fast::VERSION (Perl $^V)",
    calls => \%calls, reads => \%reads, errors => {} });
close $fh;
