package capacitybench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"
)

// rawNATS publishes msgs copies of payload to a stream of its own with
// nats.go's asynchronous publish, a round of batchSize at a time, while
// each of consumers pull consumers fetches them in batches and
// acknowledges each one. It returns the time from the first publish to the
// last message received.
func (b *brokers) rawNATS(ctx context.Context, topic string, payload []byte, msgs, consumers int) (time.Duration, error) {
	nc, err := nats.Connect(b.natsURL)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	var (
		mu     sync.Mutex
		pubErr error
	)
	js, err := nc.JetStream(nats.PublishAsyncMaxPending(2*batchSize), nats.PublishAsyncErrHandler(func(_ nats.JetStream, _ *nats.Msg, err error) {
		mu.Lock()
		pubErr = errors.Join(pubErr, err)
		mu.Unlock()
	}))
	if err != nil {
		return 0, err
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: topic, Subjects: []string{topic}}, nats.Context(ctx)); err != nil {
		return 0, err
	}
	// Each consumer has a connection of its own, as each projection does:
	// on one shared connection, batches of large envelopes for several
	// consumers outgrow what the server buffers for a client, and it
	// drops the connection as a slow consumer.
	subs := make([]*nats.Subscription, consumers)
	for k := range subs {
		cc, err := nats.Connect(b.natsURL)
		if err != nil {
			return 0, err
		}
		defer cc.Close()
		cjs, err := cc.JetStream()
		if err != nil {
			return 0, err
		}
		if subs[k], err = cjs.PullSubscribe(topic, topic+"_"+strconv.Itoa(k), nats.AckExplicit()); err != nil {
			return 0, err
		}
	}

	start := time.Now()
	published := make(chan error, 1)
	go func() {
		for sent := 0; sent < msgs; {
			n := min(batchSize, msgs-sent)
			for i := range n {
				m := nats.NewMsg(topic)
				m.Data = payload
				m.Header.Set(nats.MsgIdHdr, topic+"-"+strconv.Itoa(sent+i))
				if _, err := js.PublishMsgAsync(m); err != nil {
					published <- err
					return
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				published <- ctx.Err()
				return
			}
			sent += n
		}
		published <- nil
	}()
	received := make(chan error, consumers)
	for _, sub := range subs {
		go func() { received <- fetchAll(ctx, sub, msgs) }()
	}
	for range subs {
		if err := <-received; err != nil {
			return 0, err
		}
	}
	took := time.Since(start)
	if err := <-published; err != nil {
		return 0, err
	}
	mu.Lock()
	defer mu.Unlock()
	return took, pubErr
}

// fetchAll fetches msgs messages from a pull subscription, acknowledging
// each one.
func fetchAll(ctx context.Context, sub *nats.Subscription, msgs int) error {
	for got := 0; got < msgs; {
		batch, err := sub.FetchBatch(batchSize, nats.MaxWait(100*time.Millisecond))
		if err != nil {
			return err
		}
		for m := range batch.Messages() {
			if err := m.Ack(); err != nil {
				return err
			}
			if got++; got == msgs {
				break
			}
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("capacitybench: raw NATS: %d of %d messages: %w", got, msgs, err)
		}
	}
	return nil
}

// rawAMQP publishes msgs persistent copies of payload to a durable queue
// of its own with publisher confirms, a round of batchSize at a time
// waiting for every confirmation, while a consumer with a prefetch of
// batchSize acknowledges each delivery. It returns the time from the first
// publish to the last delivery.
func (b *brokers) rawAMQP(ctx context.Context, topic string, payload []byte, msgs int) (time.Duration, error) {
	pconn, err := amqp.Dial(b.amqpURL)
	if err != nil {
		return 0, err
	}
	defer pconn.Close()
	cconn, err := amqp.Dial(b.amqpURL)
	if err != nil {
		return 0, err
	}
	defer cconn.Close()
	pch, err := pconn.Channel()
	if err != nil {
		return 0, err
	}
	if err := pch.Confirm(false); err != nil {
		return 0, err
	}
	if _, err := pch.QueueDeclare(topic, true, false, false, false, nil); err != nil {
		return 0, err
	}
	cch, err := cconn.Channel()
	if err != nil {
		return 0, err
	}
	if err := cch.Qos(batchSize, 0, false); err != nil {
		return 0, err
	}
	deliveries, err := cch.Consume(topic, "", false, false, false, false, nil)
	if err != nil {
		return 0, err
	}

	start := time.Now()
	published := make(chan error, 1)
	go func() { published <- publishAMQP(ctx, pch, topic, payload, msgs) }()
	for got := 0; got < msgs; got++ {
		select {
		case d, ok := <-deliveries:
			if !ok {
				return 0, errors.New("capacitybench: raw RabbitMQ: deliveries closed")
			}
			if err := d.Ack(false); err != nil {
				return 0, err
			}
		case <-ctx.Done():
			return 0, fmt.Errorf("capacitybench: raw RabbitMQ: %d of %d messages: %w", got, msgs, ctx.Err())
		}
	}
	took := time.Since(start)
	return took, <-published
}

func publishAMQP(ctx context.Context, ch *amqp.Channel, queue string, payload []byte, msgs int) error {
	confirms := make([]*amqp.DeferredConfirmation, 0, batchSize)
	for sent := 0; sent < msgs; {
		confirms = confirms[:0]
		n := min(batchSize, msgs-sent)
		for i := range n {
			dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, false, false, amqp.Publishing{
				DeliveryMode: amqp.Persistent, Body: payload, MessageId: queue + "-" + strconv.Itoa(sent+i),
			})
			if err != nil {
				return err
			}
			confirms = append(confirms, dc)
		}
		for _, dc := range confirms {
			ok, err := dc.WaitContext(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return errors.New("capacitybench: raw RabbitMQ: a publish was nacked")
			}
		}
		sent += n
	}
	return nil
}
